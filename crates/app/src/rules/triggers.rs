//! Triggers for admins: the list in running order, the form (criteria
//! and actions as rows of plain words: names, not ids), moving one up or
//! down, and "test against a ticket", which shows which criteria hold and
//! what the trigger would do, without doing it.

use ferrodesk_core::{Email, Labels, TicketStatus, Urgency};
use ferrodesk_store::{TriggerRecord, TriggerWrite};

use super::ActiveTrigger;
use super::criteria::{Facts, compile_pattern, verdict};
use super::definition::{
    ActorKind, AgentNoticeKind, Assignment, CHANNELS, Condition, ConditionField, Operator,
    Recipients, RuleAction, TriggerDefinition, TriggerEvent,
};
use super::run::{Plan, log_lines};
use crate::audit::{Audit, Caller};
use crate::tickets::TicketKey;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

const MAX_NAME_CHARS: usize = 100;
const MAX_ROWS: usize = 30;
const MAX_TEXT_CHARS: usize = 20_000;
/// The most triggers an instance keeps.
pub const MAX_TRIGGERS: usize = 1_000;

/// The fields a condition can look at (custom fields are added by name).
pub const CONDITION_FIELDS: [(&str, &str); 14] = [
    ("status", "Status"),
    ("urgency", "Urgency"),
    ("priority", "Priority"),
    ("department", "Department"),
    ("team", "Team"),
    ("agent", "Agent"),
    ("labels", "Labels"),
    ("subject", "Subject"),
    ("message", "Message text"),
    ("requester_email", "Requester's address"),
    ("requester_name", "Requester's name"),
    ("organization", "Organization"),
    ("business_hours", "Time (business hours)"),
    ("satisfaction", "Satisfaction rating"),
];

/// What an action row can do, with the help its value field shows.
pub const ACTION_KINDS: [(&str, &str, &str); 31] = [
    (
        "set_status",
        "Set the status",
        "a status: awaiting agent, awaiting user, pending, resolved…",
    ),
    ("set_urgency", "Set the urgency", "1 to 10"),
    ("add_urgency", "Raise the urgency by", "a number"),
    ("subtract_urgency", "Lower the urgency by", "a number"),
    (
        "set_priority",
        "Set the priority",
        "a priority's name, or none",
    ),
    (
        "set_department",
        "Move to the department",
        "a department's name",
    ),
    ("set_team", "Set the team", "a team's name, or none"),
    (
        "assign_agent",
        "Assign to the agent",
        "an agent's name or address",
    ),
    ("assign_nobody", "Unassign", ""),
    (
        "assign_round_robin",
        "Assign in turn within the team",
        "a team's name",
    ),
    (
        "assign_least_open",
        "Assign to the team's least busy agent",
        "a team's name",
    ),
    ("add_labels", "Add labels", "labels, separated by commas"),
    (
        "remove_labels",
        "Remove labels",
        "labels, separated by commas",
    ),
    ("set_field", "Set a custom field", "field name: value"),
    ("add_cc", "Copy in (CC) the address", "an address"),
    (
        "follow",
        "Make an agent follow",
        "an agent's name or address",
    ),
    ("email_requester", "Email the requester", ""),
    ("email_ccs", "Email the CCs", ""),
    ("email_agent", "Email the assigned agent", ""),
    ("email_team", "Email the team", ""),
    (
        "email_department_agents",
        "Email the department's agents",
        "",
    ),
    (
        "email_organization_managers",
        "Email the organization's managers",
        "",
    ),
    ("email_address", "Email the address", "an address"),
    ("send_receipt", "Send the requester the receipt", ""),
    ("notify_new_ticket", "Notify agents: new ticket", ""),
    ("notify_user_reply", "Notify agents: customer's reply", ""),
    ("notify_assigned", "Notify agents: assignment", ""),
    ("add_note", "Add an internal note", ""),
    ("call_webhook", "Call the webhook", "a webhook's name"),
    ("stop", "Stop: no further triggers run", ""),
    ("", "", ""),
];

/// A condition as the form shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionRow {
    /// A key of `CONDITION_FIELDS`, or `field:<id>`.
    pub field: String,
    pub operator: String,
    /// In words: a name, a status, a number, text.
    pub value: String,
}

/// An action as the form shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRow {
    pub kind: String,
    pub value: String,
    /// A mail's subject (a template).
    pub subject: String,
    /// A mail's or note's text (a template, markdown).
    pub body: String,
}

/// A trigger as the form sends and shows it.
#[derive(Debug, Clone, Default)]
pub struct TriggerInput {
    pub name: String,
    pub is_enabled: bool,
    pub events: Vec<String>,
    pub actors: Vec<String>,
    pub channels: Vec<String>,
    pub all: Vec<ConditionRow>,
    pub any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
}

/// A trigger in the list.
#[derive(Debug, Clone)]
pub struct TriggerSummary {
    pub id: i64,
    pub name: String,
    pub is_enabled: bool,
    pub events: Vec<&'static str>,
    pub condition_count: usize,
    pub action_count: usize,
}

/// A trigger's page.
#[derive(Debug, Clone)]
pub struct TriggerView {
    pub id: i64,
    pub input: TriggerInput,
    /// Custom fields a condition or action may name: (id, name).
    pub fields: Vec<(i64, String)>,
}

/// What testing a trigger against a ticket found.
#[derive(Debug, Clone, Default)]
pub struct TriggerTest {
    pub reference: String,
    pub event: &'static str,
    /// Whether the trigger answers to the event, the actor and the
    /// channel, in words.
    pub scope: Vec<(String, bool)>,
    /// Each condition in words with whether it holds: (group, words, held).
    pub conditions: Vec<(&'static str, String, bool)>,
    pub fires: bool,
    /// What it would do, in words.
    pub effects: Vec<String>,
    pub problems: Vec<String>,
}

/// A rule's name, trimmed; a missing or unfit one is added to `errors`
/// ("Give the <what> a name.").
pub(super) fn checked_rule_name<'a>(
    name: &'a str,
    what: &str,
    errors: &mut FieldErrors,
) -> &'a str {
    let name = name.trim();
    if name.is_empty() {
        errors.add("name", format!("Give the {what} a name."));
    } else if let Err(error) = ferrodesk_core::ItemName::parse(name, MAX_NAME_CHARS) {
        errors.add("name", error.to_string());
    }
    name
}

/// Conditions and actions in stored terms.
#[derive(Debug, Default)]
pub(super) struct CheckedRows {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    pub actions: Vec<RuleAction>,
}

/// Names and ids the form translates between.
pub(super) struct Names {
    pub departments: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub agents: Vec<(i64, String, String)>,
    pub priorities: Vec<(i64, String)>,
    pub fields: Vec<(i64, String)>,
    pub webhooks: Vec<(i64, String)>,
    pub calendars: Vec<(i64, String)>,
}

pub(super) fn find_by_name(list: &[(i64, String)], wanted: &str) -> Option<i64> {
    let wanted = wanted.trim();
    list.iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(wanted))
        .map(|(id, _)| *id)
        .or_else(|| {
            wanted
                .parse::<i64>()
                .ok()
                .filter(|id| list.iter().any(|(known, _)| known == id))
        })
}

pub(super) fn name_of(list: &[(i64, String)], id: i64) -> String {
    list.iter()
        .find(|(known, _)| *known == id)
        .map_or_else(|| format!("#{id} (gone)"), |(_, name)| name.clone())
}

fn is_none_word(text: &str) -> bool {
    matches!(
        text.trim().to_lowercase().as_str(),
        "" | "none" | "nobody" | "no team"
    )
}

fn status_of(text: &str) -> Option<TicketStatus> {
    let wanted = text.trim().to_lowercase().replace(' ', "_");
    TicketStatus::ALL.into_iter().find(|status| {
        status.key() == wanted || status.label().to_lowercase().replace(' ', "_") == wanted
    })
}

impl Names {
    fn agent(&self, wanted: &str) -> Option<i64> {
        let wanted = wanted.trim();
        self.agents
            .iter()
            .find(|(_, name, email)| {
                name.eq_ignore_ascii_case(wanted) || email.eq_ignore_ascii_case(wanted)
            })
            .map(|(id, _, _)| *id)
    }

    fn agent_name(&self, id: i64) -> String {
        self.agents
            .iter()
            .find(|(known, _, _)| *known == id)
            .map_or_else(|| format!("#{id} (gone)"), |(_, name, _)| name.clone())
    }

    fn condition_field(&self, key: &str) -> Option<ConditionField> {
        Some(match key {
            "status" => ConditionField::Status,
            "urgency" => ConditionField::Urgency,
            "priority" => ConditionField::Priority,
            "department" => ConditionField::Department,
            "team" => ConditionField::Team,
            "agent" => ConditionField::Agent,
            "labels" => ConditionField::Labels,
            "subject" => ConditionField::Subject,
            "message" => ConditionField::Message,
            "requester_email" => ConditionField::RequesterEmail,
            "requester_name" => ConditionField::RequesterName,
            "organization" => ConditionField::Organization,
            "business_hours" => ConditionField::BusinessHours,
            "satisfaction" => ConditionField::Satisfaction,
            other => {
                let id = other.strip_prefix("field:")?.parse::<i64>().ok()?;
                self.fields
                    .iter()
                    .any(|(known, _)| *known == id)
                    .then_some(ConditionField::Field(id))?
            }
        })
    }
}

fn field_key(field: ConditionField) -> String {
    match field {
        ConditionField::Field(id) => format!("field:{id}"),
        other => CONDITION_FIELDS
            .iter()
            .map(|(key, _)| *key)
            .find(|key| {
                serde_json::to_value(other)
                    .ok()
                    .and_then(|value| {
                        value
                            .get("kind")
                            .and_then(|kind| kind.as_str().map(str::to_owned))
                    })
                    .is_some_and(|kind| kind == *key)
            })
            .unwrap_or_default()
            .to_owned(),
    }
}

impl App {
    pub(super) async fn rule_names(&self) -> AppResult<Names> {
        let directory = self.shared_directory().await?;
        Ok(Names {
            departments: crate::departments::department_tree(&directory.departments)
                .iter()
                .map(|node| (node.id, node.path.clone()))
                .chain(directory.departments.iter().map(|d| (d.id, d.name.clone())))
                .collect(),
            teams: directory
                .teams
                .iter()
                .map(|team| (team.id, team.name.clone()))
                .collect(),
            agents: directory
                .agents
                .iter()
                .map(|agent| (agent.id, agent.name.clone(), agent.email.clone()))
                .collect(),
            priorities: self
                .store()
                .ticket_fields()
                .list_ticket_priorities()
                .await?
                .into_iter()
                .map(|priority| (priority.id, priority.name))
                .collect(),
            fields: self
                .store()
                .ticket_fields()
                .list_ticket_fields()
                .await?
                .into_iter()
                .map(|field| (field.id, field.name))
                .collect(),
            webhooks: self
                .store()
                .webhooks()
                .list_webhooks()
                .await?
                .into_iter()
                .map(|hook| (hook.id, hook.name))
                .collect(),
            calendars: self
                .store()
                .business_calendars()
                .list_calendars()
                .await?
                .into_iter()
                .map(|calendar| (calendar.id, calendar.name))
                .collect(),
        })
    }

    /// A condition row in stored terms, or why not.
    pub(super) async fn condition_of(
        &self,
        names: &Names,
        row: &ConditionRow,
    ) -> Result<Condition, String> {
        let field = names
            .condition_field(&row.field)
            .ok_or_else(|| "Choose what the condition looks at.".to_owned())?;
        let operator = Operator::from_key(&row.operator)
            .filter(|operator| field.operators().contains(operator))
            .ok_or_else(|| "That comparison does not fit the field.".to_owned())?;
        let text = row.value.trim();
        if !operator.takes_value() {
            return Ok(Condition {
                field,
                operator,
                value: String::new(),
            });
        }
        let unknown = |what: &str| format!("No {what} is called \"{text}\".");
        let value = match field {
            ConditionField::Status => status_of(text)
                .map(|status| status.key().to_owned())
                .ok_or_else(|| unknown("status"))?,
            ConditionField::Urgency => Urgency::new(
                text.parse::<i64>()
                    .map_err(|_| "Urgency is a number from 1 to 10.".to_owned())?,
            )
            .map_err(|error| error.to_string())?
            .get()
            .to_string(),
            ConditionField::Priority if is_none_word(text) => String::new(),
            ConditionField::Priority => find_by_name(&names.priorities, text)
                .ok_or_else(|| unknown("priority"))?
                .to_string(),
            ConditionField::Department => find_by_name(&names.departments, text)
                .ok_or_else(|| unknown("department"))?
                .to_string(),
            ConditionField::Team if is_none_word(text) => String::new(),
            ConditionField::Team => find_by_name(&names.teams, text)
                .ok_or_else(|| unknown("team"))?
                .to_string(),
            ConditionField::Agent if is_none_word(text) => String::new(),
            ConditionField::Agent => names
                .agent(text)
                .ok_or_else(|| unknown("agent"))?
                .to_string(),
            ConditionField::Organization if is_none_word(text) => String::new(),
            ConditionField::Organization => self
                .store()
                .directory()
                .find_organization(text)
                .await
                .map_err(|error| error.to_string())?
                .ok_or_else(|| unknown("organization"))?
                .id
                .to_string(),
            ConditionField::BusinessHours => find_by_name(&names.calendars, text)
                .ok_or_else(|| unknown("business-hours calendar"))?
                .to_string(),
            ConditionField::Satisfaction => match text.to_lowercase().as_str() {
                "good" => "good".to_owned(),
                "bad" => "bad".to_owned(),
                _ => return Err("A satisfaction rating is good or bad.".into()),
            },
            ConditionField::Labels => Labels::parse([text])
                .map_err(|error| error.to_string())?
                .joined(),
            _ if operator == Operator::Matches => {
                compile_pattern(text)?;
                text.to_owned()
            }
            _ => {
                if text.is_empty() && operator != Operator::Is && operator != Operator::IsNot {
                    return Err("Give the text to compare with.".into());
                }
                text.chars().take(1_000).collect()
            }
        };
        Ok(Condition {
            field,
            operator,
            value,
        })
    }

    /// A condition in the form's words.
    pub(super) fn condition_row(&self, names: &Names, condition: &Condition) -> ConditionRow {
        let value = &condition.value;
        let id = value.parse::<i64>().ok();
        let words = match (condition.field, id) {
            (_, _) if !condition.operator.takes_value() => String::new(),
            (ConditionField::Status, _) => TicketStatus::from_key(value)
                .map_or_else(|| value.clone(), |status| status.label().to_owned()),
            (ConditionField::Priority, Some(id)) => name_of(&names.priorities, id),
            (ConditionField::Department, Some(id)) => name_of(&names.departments, id),
            (ConditionField::Team, Some(id)) => name_of(&names.teams, id),
            (ConditionField::Agent, Some(id)) => names.agent_name(id),
            (ConditionField::BusinessHours, Some(id)) => name_of(&names.calendars, id),
            (
                ConditionField::Priority
                | ConditionField::Team
                | ConditionField::Agent
                | ConditionField::Organization,
                None,
            ) => "none".to_owned(),
            _ => value.clone(),
        };
        ConditionRow {
            field: field_key(condition.field),
            operator: condition.operator.key().to_owned(),
            value: words,
        }
    }

    /// A condition in a sentence: "Subject contains printer".
    pub(super) fn condition_words(&self, names: &Names, condition: &Condition) -> String {
        let row = self.condition_row(names, condition);
        let field = match condition.field {
            ConditionField::Field(id) => name_of(&names.fields, id),
            _ => CONDITION_FIELDS
                .iter()
                .find(|(key, _)| *key == row.field)
                .map(|(_, label)| (*label).to_owned())
                .unwrap_or_default(),
        };
        format!("{field} {} {}", condition.operator.label(), row.value)
            .trim()
            .to_owned()
    }

    /// An action row in stored terms, or why not.
    pub(super) fn action_of(&self, names: &Names, row: &ActionRow) -> Result<RuleAction, String> {
        let text = row.value.trim();
        let unknown = |what: &str| format!("No {what} is called \"{text}\".");
        let number = || {
            text.parse::<i64>()
                .map_err(|_| "Give a number.".to_owned())
                .map(|value| value.clamp(-10, 10))
        };
        let body = || -> Result<String, String> {
            let body = row.body.trim();
            if body.is_empty() {
                return Err("Write the text.".into());
            }
            if body.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("A text is at most {MAX_TEXT_CHARS} characters."));
            }
            ferrodesk_mail::templates::render_text(body, &sample_context())
                .map_err(|error| format!("The placeholders do not work: {error}"))?;
            Ok(body.to_owned())
        };
        let team = || find_by_name(&names.teams, text).ok_or_else(|| unknown("team"));
        let email = |to: Recipients| -> Result<RuleAction, String> {
            let subject = row.subject.trim();
            if subject.is_empty() {
                return Err("Give the mail a subject.".into());
            }
            ferrodesk_mail::templates::render_text(subject, &sample_context())
                .map_err(|error| format!("The subject's placeholders do not work: {error}"))?;
            let address = if to == Recipients::Address {
                // A fixed address, never a placeholder: ticket content
                // cannot choose where a rule's mail goes.
                Email::parse(text)
                    .map_err(|error| error.to_string())?
                    .as_str()
                    .to_owned()
            } else {
                String::new()
            };
            Ok(RuleAction::Email {
                to,
                address,
                subject: subject.chars().take(300).collect(),
                body: body()?,
            })
        };
        Ok(match row.kind.as_str() {
            "set_status" => RuleAction::SetStatus {
                status: status_of(text)
                    .ok_or_else(|| unknown("status"))?
                    .key()
                    .to_owned(),
            },
            "set_urgency" => RuleAction::SetUrgency {
                urgency: Urgency::new(number()?)
                    .map_err(|error| error.to_string())?
                    .get(),
            },
            "add_urgency" => RuleAction::AddUrgency { amount: number()? },
            "subtract_urgency" => RuleAction::SubtractUrgency { amount: number()? },
            "set_priority" if is_none_word(text) => RuleAction::SetPriority { priority_id: None },
            "set_priority" => RuleAction::SetPriority {
                priority_id: Some(
                    find_by_name(&names.priorities, text).ok_or_else(|| unknown("priority"))?,
                ),
            },
            "set_department" => RuleAction::SetDepartment {
                department_id: find_by_name(&names.departments, text)
                    .ok_or_else(|| unknown("department"))?,
            },
            "set_team" if is_none_word(text) => RuleAction::SetTeam { team_id: None },
            "set_team" => RuleAction::SetTeam {
                team_id: Some(team()?),
            },
            "assign_agent" => RuleAction::Assign {
                assignment: Assignment::Agent(names.agent(text).ok_or_else(|| unknown("agent"))?),
            },
            "assign_nobody" => RuleAction::Assign {
                assignment: Assignment::Nobody,
            },
            "assign_round_robin" => RuleAction::Assign {
                assignment: Assignment::RoundRobin(team()?),
            },
            "assign_least_open" => RuleAction::Assign {
                assignment: Assignment::LeastOpen(team()?),
            },
            "add_labels" | "remove_labels" => {
                let labels = Labels::parse(
                    text.split(',')
                        .map(str::trim)
                        .filter(|label| !label.is_empty()),
                )
                .map_err(|error| error.to_string())?
                .to_strings();
                if labels.is_empty() {
                    return Err("Give at least one label.".into());
                }
                if row.kind == "add_labels" {
                    RuleAction::AddLabels { labels }
                } else {
                    RuleAction::RemoveLabels { labels }
                }
            }
            "set_field" => {
                let (name, value) = text
                    .split_once(':')
                    .ok_or_else(|| "Write the field's name, a colon, then the value.".to_owned())?;
                let field_id = find_by_name(&names.fields, name)
                    .ok_or_else(|| format!("No custom field is called \"{}\".", name.trim()))?;
                RuleAction::SetField {
                    field_id,
                    value: value.trim().to_owned(),
                }
            }
            "add_cc" => RuleAction::AddCc {
                email: Email::parse(text)
                    .map_err(|error| error.to_string())?
                    .as_str()
                    .to_owned(),
            },
            "follow" => RuleAction::Follow {
                agent_id: names.agent(text).ok_or_else(|| unknown("agent"))?,
            },
            "email_requester" => email(Recipients::Requester)?,
            "email_ccs" => email(Recipients::Ccs)?,
            "email_agent" => email(Recipients::Agent)?,
            "email_team" => email(Recipients::Team)?,
            "email_department_agents" => email(Recipients::DepartmentAgents)?,
            "email_organization_managers" => email(Recipients::OrganizationManagers)?,
            "email_address" => email(Recipients::Address)?,
            "add_note" => RuleAction::AddNote { body: body()? },
            "call_webhook" => RuleAction::CallWebhook {
                webhook_id: find_by_name(&names.webhooks, text)
                    .ok_or_else(|| unknown("webhook"))?,
            },
            "send_receipt" => RuleAction::SendReceipt,
            "notify_new_ticket" => RuleAction::NotifyAgents {
                notice: AgentNoticeKind::NewTicket,
            },
            "notify_user_reply" => RuleAction::NotifyAgents {
                notice: AgentNoticeKind::UserReply,
            },
            "notify_assigned" => RuleAction::NotifyAgents {
                notice: AgentNoticeKind::Assigned,
            },
            "stop" => RuleAction::Stop,
            _ => return Err("Choose what the action does.".into()),
        })
    }

    /// An action in the form's words.
    pub(super) fn action_row(&self, names: &Names, action: &RuleAction) -> ActionRow {
        let row = |kind: &str, value: String| ActionRow {
            kind: kind.to_owned(),
            value,
            ..ActionRow::default()
        };
        match action {
            RuleAction::SetStatus { status } => row(
                "set_status",
                TicketStatus::from_key(status)
                    .map_or_else(|| status.clone(), |status| status.label().to_owned()),
            ),
            RuleAction::SetUrgency { urgency } => row("set_urgency", urgency.to_string()),
            RuleAction::AddUrgency { amount } => row("add_urgency", amount.to_string()),
            RuleAction::SubtractUrgency { amount } => row("subtract_urgency", amount.to_string()),
            RuleAction::SetPriority { priority_id } => row(
                "set_priority",
                priority_id.map_or_else(|| "none".to_owned(), |id| name_of(&names.priorities, id)),
            ),
            RuleAction::SetDepartment { department_id } => row(
                "set_department",
                name_of(&names.departments, *department_id),
            ),
            RuleAction::SetTeam { team_id } => row(
                "set_team",
                team_id.map_or_else(|| "none".to_owned(), |id| name_of(&names.teams, id)),
            ),
            RuleAction::Assign { assignment } => match assignment {
                Assignment::Agent(id) => row("assign_agent", names.agent_name(*id)),
                Assignment::Nobody => row("assign_nobody", String::new()),
                Assignment::RoundRobin(id) => row("assign_round_robin", name_of(&names.teams, *id)),
                Assignment::LeastOpen(id) => row("assign_least_open", name_of(&names.teams, *id)),
            },
            RuleAction::AddLabels { labels } => row("add_labels", labels.join(", ")),
            RuleAction::RemoveLabels { labels } => row("remove_labels", labels.join(", ")),
            RuleAction::SetField { field_id, value } => row(
                "set_field",
                format!("{}: {value}", name_of(&names.fields, *field_id)),
            ),
            RuleAction::AddCc { email } => row("add_cc", email.clone()),
            RuleAction::Follow { agent_id } => row("follow", names.agent_name(*agent_id)),
            RuleAction::Email {
                to,
                address,
                subject,
                body,
            } => {
                let kind = match to {
                    Recipients::Requester => "email_requester",
                    Recipients::Ccs => "email_ccs",
                    Recipients::Agent => "email_agent",
                    Recipients::Team => "email_team",
                    Recipients::DepartmentAgents => "email_department_agents",
                    Recipients::OrganizationManagers => "email_organization_managers",
                    Recipients::Address => "email_address",
                };
                ActionRow {
                    kind: kind.to_owned(),
                    value: address.clone(),
                    subject: subject.clone(),
                    body: body.clone(),
                }
            }
            RuleAction::AddNote { body } => ActionRow {
                kind: "add_note".to_owned(),
                body: body.clone(),
                ..ActionRow::default()
            },
            RuleAction::CallWebhook { webhook_id } => {
                row("call_webhook", name_of(&names.webhooks, *webhook_id))
            }
            RuleAction::SendReceipt => row("send_receipt", String::new()),
            RuleAction::NotifyAgents { notice } => row(
                match notice {
                    AgentNoticeKind::NewTicket => "notify_new_ticket",
                    AgentNoticeKind::UserReply => "notify_user_reply",
                    AgentNoticeKind::Assigned => "notify_assigned",
                },
                String::new(),
            ),
            RuleAction::Stop => row("stop", String::new()),
        }
    }

    /// The form checked and turned into a definition.
    async fn checked_trigger(
        &self,
        input: &TriggerInput,
    ) -> AppResult<(String, TriggerDefinition)> {
        let mut errors = FieldErrors::new();
        let name = checked_rule_name(&input.name, "trigger", &mut errors);
        let events: Vec<TriggerEvent> = input
            .events
            .iter()
            .filter_map(|key| TriggerEvent::from_key(key))
            .collect();
        if events.is_empty() {
            errors.add("events", "Choose at least one event the trigger runs on.");
        }
        let actors: Vec<ActorKind> = input
            .actors
            .iter()
            .filter_map(|key| ActorKind::from_key(key))
            .collect();
        let channels: Vec<String> = input
            .channels
            .iter()
            .filter(|key| CHANNELS.iter().any(|(known, _)| known == key))
            .cloned()
            .collect();
        let names = self.rule_names().await?;
        let CheckedRows { all, any, actions } = self
            .checked_rows(
                &names,
                (&input.all, &input.any, &input.actions),
                true,
                &mut errors,
            )
            .await;
        errors.into_result()?;
        Ok((
            name.to_owned(),
            TriggerDefinition {
                events,
                actors,
                channels,
                all,
                any,
                actions,
            },
        ))
    }

    /// A rule's conditions and actions checked and in stored terms, with
    /// the rows' problems added to `errors` (the same for triggers,
    /// escalations and SLAs; an SLA may have no action).
    pub(super) async fn checked_rows(
        &self,
        names: &Names,
        (all, any, actions): (&[ConditionRow], &[ConditionRow], &[ActionRow]),
        actions_required: bool,
        errors: &mut FieldErrors,
    ) -> CheckedRows {
        let mut checked = CheckedRows::default();
        for (rows, label) in [(all, "all"), (any, "any")] {
            let rows: Vec<&ConditionRow> =
                rows.iter().filter(|row| !row.field.is_empty()).collect();
            if rows.len() > MAX_ROWS {
                errors.add(label, format!("At most {MAX_ROWS} conditions in a group."));
            }
            for (index, row) in rows.into_iter().take(MAX_ROWS).enumerate() {
                match self.condition_of(names, row).await {
                    Ok(condition) if label == "all" => checked.all.push(condition),
                    Ok(condition) => checked.any.push(condition),
                    Err(problem) => errors.add(
                        label,
                        format!(
                            "Condition {} ({}): {problem}",
                            index + 1,
                            if label == "all" { "all of" } else { "any of" }
                        ),
                    ),
                }
            }
        }
        let rows: Vec<&ActionRow> = actions.iter().filter(|row| !row.kind.is_empty()).collect();
        if rows.len() > MAX_ROWS {
            errors.add("actions", format!("At most {MAX_ROWS} actions."));
        }
        for (index, row) in rows.into_iter().take(MAX_ROWS).enumerate() {
            match self.action_of(names, row) {
                Ok(action) => checked.actions.push(action),
                Err(problem) => errors.add("actions", format!("Action {}: {problem}", index + 1)),
            }
        }
        if actions_required && checked.actions.is_empty() && errors.for_field("actions").is_empty()
        {
            errors.add("actions", "Choose at least one action.");
        }
        checked
    }

    /// Every trigger, in the order they run (admins).
    pub async fn triggers(&self, actor: &Actor) -> AppResult<Vec<TriggerSummary>> {
        actor.require_admin()?;
        Ok(self
            .store()
            .triggers()
            .list_triggers()
            .await?
            .into_iter()
            .map(|record| {
                let definition: TriggerDefinition =
                    serde_json::from_str(&record.definition).unwrap_or_default();
                TriggerSummary {
                    id: record.id,
                    name: record.name,
                    is_enabled: record.is_enabled,
                    events: definition
                        .events
                        .iter()
                        .map(|event| event.label())
                        .collect(),
                    condition_count: definition.all.len() + definition.any.len(),
                    action_count: definition.actions.len(),
                }
            })
            .collect())
    }

    /// The custom fields a trigger's form offers.
    pub async fn trigger_form_fields(&self, actor: &Actor) -> AppResult<Vec<(i64, String)>> {
        actor.require_admin()?;
        Ok(self.rule_names().await?.fields)
    }

    async fn stored_trigger(&self, actor: &Actor, id: i64) -> AppResult<TriggerRecord> {
        actor.require_admin()?;
        self.store()
            .triggers()
            .get_trigger(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// One trigger in the form's words (admins).
    pub async fn trigger(&self, actor: &Actor, id: i64) -> AppResult<TriggerView> {
        let record = self.stored_trigger(actor, id).await?;
        let definition: TriggerDefinition =
            serde_json::from_str(&record.definition).unwrap_or_default();
        let names = self.rule_names().await?;
        let input = TriggerInput {
            name: record.name.clone(),
            is_enabled: record.is_enabled,
            events: definition
                .events
                .iter()
                .map(|event| event.key().to_owned())
                .collect(),
            actors: definition
                .actors
                .iter()
                .map(|kind| kind.key().to_owned())
                .collect(),
            channels: definition.channels.clone(),
            all: definition
                .all
                .iter()
                .map(|condition| self.condition_row(&names, condition))
                .collect(),
            any: definition
                .any
                .iter()
                .map(|condition| self.condition_row(&names, condition))
                .collect(),
            actions: definition
                .actions
                .iter()
                .map(|action| self.action_row(&names, action))
                .collect(),
        };
        Ok(TriggerView {
            id: record.id,
            input,
            fields: names.fields,
        })
    }

    pub async fn create_trigger(
        &self,
        caller: &Caller<'_>,
        input: &TriggerInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let (name, definition) = self.checked_trigger(input).await?;
        if self.store().triggers().list_triggers().await?.len() >= MAX_TRIGGERS {
            return Err(AppError::invalid(
                "name",
                format!("An instance keeps at most {MAX_TRIGGERS} triggers."),
            ));
        }
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let id = self
            .store()
            .triggers()
            .create_trigger(
                &TriggerWrite {
                    name: &name,
                    is_enabled: input.is_enabled,
                    definition: &json,
                },
                self.now(),
            )
            .await?;
        let audit = Audit::new(caller, "trigger.created")
            .on("trigger", Some(id), &name)
            .after(&serde_json::json!({"enabled": input.is_enabled, "definition": definition}));
        self.audit(&audit).await?;
        Ok(id)
    }

    pub async fn update_trigger(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &TriggerInput,
    ) -> AppResult<()> {
        let before = self.stored_trigger(caller.actor, id).await?;
        let (name, definition) = self.checked_trigger(input).await?;
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let write = TriggerWrite {
            name: &name,
            is_enabled: input.is_enabled,
            definition: &json,
        };
        if !self
            .store()
            .triggers()
            .update_trigger(id, &write, self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        let old: serde_json::Value = serde_json::from_str(&before.definition).unwrap_or_default();
        let audit = Audit::new(caller, "trigger.changed")
            .on("trigger", Some(id), &name)
            .change(
                &serde_json::json!({"name": before.name, "enabled": before.is_enabled, "definition": old}),
                &serde_json::json!({"name": name, "enabled": input.is_enabled, "definition": definition}),
            );
        self.audit(&audit).await?;
        Ok(())
    }

    /// Moves a trigger one place earlier (`up`) or later in the order.
    pub async fn move_trigger(&self, caller: &Caller<'_>, id: i64, up: bool) -> AppResult<()> {
        let record = self.stored_trigger(caller.actor, id).await?;
        if self
            .store()
            .triggers()
            .move_trigger(id, up, self.now())
            .await?
        {
            let audit = Audit::new(caller, "trigger.moved")
                .on("trigger", Some(id), &record.name)
                .after(&serde_json::json!({"direction": if up { "up" } else { "down" }}));
            self.audit(&audit).await?;
        }
        Ok(())
    }

    pub async fn delete_trigger(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let record = self.stored_trigger(caller.actor, id).await?;
        if !self.store().triggers().delete_trigger(id).await? {
            return Err(AppError::NotFound);
        }
        let old: serde_json::Value = serde_json::from_str(&record.definition).unwrap_or_default();
        let audit = Audit::new(caller, "trigger.deleted")
            .on("trigger", Some(id), &record.name)
            .change(
                &Some(serde_json::json!({"name": record.name, "definition": old})),
                &None,
            );
        self.audit(&audit).await?;
        Ok(())
    }

    /// What a trigger would do to a ticket if `event` happened to it now:
    /// which criteria hold and the changes, mail, notes and calls it
    /// would make. Nothing is written, sent or counted.
    pub async fn test_trigger(
        &self,
        actor: &Actor,
        id: i64,
        reference: &str,
        event: TriggerEvent,
    ) -> AppResult<TriggerTest> {
        let record = self.stored_trigger(actor, id).await?;
        let trigger = ActiveTrigger::compile(&record)
            .ok_or_else(|| AppError::Internal("the trigger's definition does not read".into()))?;
        let ticket = self
            .ticket_by_key(
                &TicketKey::parse(reference)
                    .map_err(|_| AppError::invalid("reference", "No ticket has that reference."))?,
            )
            .await
            .map_err(|_| AppError::invalid("reference", "No ticket has that reference."))?;
        let message_id = self
            .store()
            .tickets()
            .last_message_id(ticket.id)
            .await
            .ok()
            .filter(|id| *id > 0);
        // The ticket's newest message stands for the event's: its text,
        // its channel, and who wrote it.
        let (message, channel) = match message_id {
            Some(id) => self
                .store()
                .tickets()
                .message_text(ticket.id, id)
                .await?
                .map(|(text, _, channel)| (text, channel))
                .unwrap_or_default(),
            None => (String::new(), "agent".to_owned()),
        };
        let actor = match channel.as_str() {
            "agent" => ActorKind::Agent,
            "api" => ActorKind::Api,
            _ => ActorKind::User,
        };
        let scene = self.scene_of(ticket, message, actor, true).await?;
        let facts = Facts {
            event,
            actor: scene.actor,
            channel: &channel,
            ticket: &scene.model,
            requester_email: &scene.requester_email,
            requester_name: &scene.requester_name,
            organization_id: scene.ticket.organization_id,
            message: &scene.message,
            changes: &[],
            priority_names: &scene.priority_names,
            field_names: &scene.field_names,
            calendars: &scene.calendars,
            now: self.now(),
        };
        let found = verdict(&facts, &trigger.definition, &trigger.all, &trigger.any);
        let names = self.rule_names().await?;
        let operator_words = |condition: &Condition| self.condition_words(&names, condition);
        let mut conditions = Vec::new();
        for (condition, held) in trigger.definition.all.iter().zip(&found.all) {
            conditions.push(("all", operator_words(condition), *held));
        }
        for (condition, held) in trigger.definition.any.iter().zip(&found.any) {
            conditions.push(("any", operator_words(condition), *held));
        }
        let mut test = TriggerTest {
            reference: scene.ticket.reference.to_string(),
            event: event.label(),
            scope: scope_lines(&trigger.definition, event, actor, &channel),
            conditions,
            fires: found.matched(),
            ..TriggerTest::default()
        };
        // The actions run on a copy, with nothing written or sent.
        let mut plan = Plan {
            dry_run: true,
            ..Plan::default()
        };
        let mut model = scene.model.clone();
        self.apply_actions(&trigger, &scene, &mut model, &mut plan)
            .await?;
        let directory = self.shared_directory().await?;
        let departments = crate::departments::department_tree(&directory.departments);
        let log_names = crate::tickets::LogNames {
            departments: &departments,
            agents: &directory.agents,
            teams: &directory.teams,
        };
        for (field, before, after) in log_lines(
            &scene.model,
            &model,
            &scene.priority_names,
            &scene.field_names,
        ) {
            let record = ferrodesk_store::TicketLogRecord {
                id: 0,
                actor: String::new(),
                field: field.to_owned(),
                before_value: before,
                after_value: after,
                occurred_at: 0,
            };
            test.effects.push(to_do(&crate::tickets::describe_log_entry(
                &record, &log_names,
            )));
        }
        test.effects.extend(plan.previews);
        for mail in &plan.mails {
            test.effects.push(format!("send mail {}", mail.describe()));
        }
        for notice in &plan.notices {
            test.effects.push(format!(
                "notify {} (as each agent's notification settings say)",
                notice.recipients()
            ));
        }
        for (text, _) in &plan.notes {
            test.effects.push(format!("add the note: {text}"));
        }
        for (webhook_id, _) in &plan.webhook_calls {
            test.effects.push(format!(
                "call the webhook {}",
                name_of(&names.webhooks, *webhook_id)
            ));
        }
        test.problems = plan.problems;
        Ok(test)
    }
}

/// What was done, said as what would be: "changed the status…" becomes
/// "change the status…".
fn to_do(done: &str) -> String {
    [
        ("changed ", "change "),
        ("assigned ", "assign "),
        ("unassigned ", "unassign "),
        ("left ", "leave "),
    ]
    .iter()
    .find_map(|(past, present)| {
        done.strip_prefix(past)
            .map(|rest| format!("{present}{rest}"))
    })
    .unwrap_or_else(|| done.to_owned())
}

/// Whether a trigger answers to an event, who acted and the channel.
fn scope_lines(
    definition: &TriggerDefinition,
    event: TriggerEvent,
    actor: ActorKind,
    channel: &str,
) -> Vec<(String, bool)> {
    let channel_words = CHANNELS
        .iter()
        .find(|(key, _)| *key == channel)
        .map_or(channel, |(_, words)| words);
    vec![
        (
            format!("runs on \"{}\"", event.label()),
            definition.events.contains(&event),
        ),
        (
            format!("answers to {}", actor.label().to_lowercase()),
            definition.actors.is_empty() || definition.actors.contains(&actor),
        ),
        (
            format!("answers to the channel {channel_words} (the newest message's)"),
            definition.channels.is_empty()
                || definition.channels.iter().any(|known| known == channel),
        ),
    ]
}

/// Values for checking a template's placeholders when it is saved.
fn sample_context() -> serde_json::Value {
    serde_json::json!({
        "ticket": {"reference": "ABC-1234-XYZ", "subject": "Subject", "status": "Awaiting agent", "department": "Support", "urgency": 5, "priority": "", "labels": [], "link": "", "agent_link": "", "message": ""},
        "user": {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com"},
        "agent": {"name": "Agent", "email": "agent@example.com"},
        "helpdesk": {"name": "Helpdesk"},
    })
}
