//! Whether a trigger's criteria hold for one event: the facts the event
//! brings (the ticket as the rules have left it so far, who acted, the
//! channel, the message, what changed) against each condition. Patterns
//! run on the `regex` crate's linear-time engine with a size limit, so no
//! pattern and no text can make a check slow.

use std::collections::HashMap;

use ferrodesk_core::{BusinessCalendar, Labels, TicketStatus, Timestamp, Urgency};
use regex::{Regex, RegexBuilder};

use super::definition::{ActorKind, Condition, ConditionField, Operator, TriggerEvent};

/// The most characters a pattern may have.
pub const MAX_PATTERN_CHARS: usize = 500;
/// The most memory a compiled pattern may take.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// Compiles a condition's pattern, case-insensitively, within limits.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!(
            "A pattern is at most {MAX_PATTERN_CHARS} characters."
        ));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("The pattern does not work: {error}"))
}

/// A condition ready to check (its pattern compiled once).
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    pub condition: Condition,
    pub pattern: Option<Regex>,
}

impl CompiledCondition {
    pub fn new(condition: Condition) -> CompiledCondition {
        let pattern = (condition.operator == Operator::Matches)
            .then(|| compile_pattern(&condition.value).ok())
            .flatten();
        CompiledCondition { condition, pattern }
    }
}

/// A ticket's properties as the rules see and change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TicketModel {
    pub status: TicketStatus,
    pub urgency: Urgency,
    pub priority_id: Option<i64>,
    pub department_id: i64,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub labels: Labels,
    pub subject: String,
    /// Custom field values by field id (canonical, several lines for
    /// several choices).
    pub fields: HashMap<i64, String>,
}

/// One change an event made: (log field, before, after), as the ticket
/// log writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Everything a condition may look at.
pub(crate) struct Facts<'a> {
    pub event: TriggerEvent,
    pub actor: ActorKind,
    pub channel: &'a str,
    pub ticket: &'a TicketModel,
    pub requester_email: &'a str,
    pub requester_name: &'a str,
    pub organization_id: Option<i64>,
    pub message: &'a str,
    pub changes: &'a [Change],
    /// Priority names by id (the log names priorities).
    pub priority_names: &'a HashMap<i64, String>,
    /// Custom field names by id (the log names fields).
    pub field_names: &'a HashMap<i64, String>,
    pub calendars: &'a HashMap<i64, BusinessCalendar>,
    pub now: Timestamp,
}

fn id_text(id: Option<i64>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

impl Facts<'_> {
    /// The field's value now, as text comparable with a condition's value.
    fn value_of(&self, field: ConditionField) -> String {
        let ticket = self.ticket;
        match field {
            ConditionField::Status => ticket.status.key().to_owned(),
            ConditionField::Urgency => ticket.urgency.get().to_string(),
            ConditionField::Priority => id_text(ticket.priority_id),
            ConditionField::Department => ticket.department_id.to_string(),
            ConditionField::Team => id_text(ticket.team_id),
            ConditionField::Agent => id_text(ticket.agent_id),
            ConditionField::Labels => ticket.labels.joined(),
            ConditionField::Subject => ticket.subject.clone(),
            ConditionField::Message => self.message.to_owned(),
            ConditionField::RequesterEmail => self.requester_email.to_owned(),
            ConditionField::RequesterName => self.requester_name.to_owned(),
            ConditionField::Organization => id_text(self.organization_id),
            ConditionField::Field(id) => ticket.fields.get(&id).cloned().unwrap_or_default(),
            ConditionField::BusinessHours | ConditionField::Satisfaction => String::new(),
        }
    }

    /// The change this event made to the field, with the before and after
    /// values in the condition's terms (ids, keys, numbers).
    fn change_of(&self, field: ConditionField) -> Option<(String, String)> {
        let key = match field {
            ConditionField::Status => "status",
            ConditionField::Urgency => "urgency",
            ConditionField::Priority => "priority",
            ConditionField::Department => "department",
            ConditionField::Team => "team",
            ConditionField::Agent => "agent",
            ConditionField::Labels => "labels",
            ConditionField::Field(_) => "field",
            ConditionField::Satisfaction => "satisfaction",
            _ => return None,
        };
        let field_prefix = match field {
            ConditionField::Field(id) => self.field_names.get(&id).map(|name| format!("{name}: ")),
            _ => None,
        };
        let change = self.changes.iter().find(|change| {
            change.field == key
                && field_prefix.as_ref().is_none_or(|prefix| {
                    // Field lines read "<name>: <value>".
                    change
                        .after
                        .as_deref()
                        .or(change.before.as_deref())
                        .is_some_and(|text| text.starts_with(prefix.as_str()))
                })
        })?;
        let in_terms = |value: &Option<String>| -> String {
            let text = value.clone().unwrap_or_default();
            if field == ConditionField::Priority {
                // The log names the priority; conditions hold its id.
                return self
                    .priority_names
                    .iter()
                    .find(|(_, name)| **name == text)
                    .map(|(id, _)| id.to_string())
                    .unwrap_or_default();
            }
            text
        };
        Some((in_terms(&change.before), in_terms(&change.after)))
    }

    /// Whether one condition holds.
    pub fn check(&self, compiled: &CompiledCondition) -> bool {
        let condition = &compiled.condition;
        let wanted = condition.value.trim();
        match condition.operator {
            Operator::Changed => self.change_of(condition.field).is_some(),
            Operator::ChangedFrom => self
                .change_of(condition.field)
                .is_some_and(|(before, _)| same(&before, wanted)),
            Operator::ChangedTo => self
                .change_of(condition.field)
                .is_some_and(|(_, after)| same(&after, wanted)),
            Operator::Within | Operator::Outside => {
                let working = wanted
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| self.calendars.get(&id))
                    .map(|calendar| calendar.is_working(self.now));
                match (condition.operator, working) {
                    (Operator::Within, Some(working)) => working,
                    (Operator::Outside, Some(working)) => !working,
                    // A calendar since deleted matches nothing.
                    _ => false,
                }
            }
            operator => {
                let value = self.value_of(condition.field);
                if condition.field == ConditionField::Labels {
                    let has = self
                        .ticket
                        .labels
                        .as_slice()
                        .iter()
                        .any(|label| same(label.as_str(), wanted));
                    return match operator {
                        Operator::Contains => has,
                        Operator::NotContains => !has,
                        _ => false,
                    };
                }
                compare(operator, &value, wanted, compiled.pattern.as_ref())
            }
        }
    }

    /// Whether the event is one the trigger watches, from whom and where
    /// it watches.
    pub fn event_fits(&self, definition: &super::TriggerDefinition) -> bool {
        definition.events.contains(&self.event)
            && (definition.actors.is_empty() || definition.actors.contains(&self.actor))
            && (definition.channels.is_empty()
                || definition
                    .channels
                    .iter()
                    .any(|channel| channel == self.channel))
    }
}

fn same(left: &str, right: &str) -> bool {
    left.trim().to_lowercase() == right.trim().to_lowercase()
}

/// Compares a value with what the condition wants.
fn compare(operator: Operator, value: &str, wanted: &str, pattern: Option<&Regex>) -> bool {
    match operator {
        Operator::Is => same(value, wanted) || value.lines().any(|line| same(line, wanted)),
        Operator::IsNot => !(same(value, wanted) || value.lines().any(|line| same(line, wanted))),
        Operator::Contains => value.to_lowercase().contains(&wanted.to_lowercase()),
        Operator::NotContains => !value.to_lowercase().contains(&wanted.to_lowercase()),
        Operator::Matches => pattern.is_some_and(|pattern| pattern.is_match(value)),
        Operator::Greater | Operator::Less => {
            match (value.trim().parse::<i64>(), wanted.parse::<i64>()) {
                (Ok(value), Ok(wanted)) if operator == Operator::Greater => value > wanted,
                (Ok(value), Ok(wanted)) => value < wanted,
                _ => false,
            }
        }
        Operator::Changed
        | Operator::ChangedFrom
        | Operator::ChangedTo
        | Operator::Within
        | Operator::Outside => false,
    }
}

/// How a trigger's criteria came out, condition by condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub event_fits: bool,
    pub all: Vec<bool>,
    pub any: Vec<bool>,
}

impl Verdict {
    pub fn matched(&self) -> bool {
        self.event_fits
            && self.all.iter().all(|held| *held)
            && (self.any.is_empty() || self.any.iter().any(|held| *held))
    }
}

/// Checks every condition (a test shows them all; a run stops early).
pub(crate) fn verdict(
    facts: &Facts<'_>,
    definition: &super::TriggerDefinition,
    all: &[CompiledCondition],
    any: &[CompiledCondition],
) -> Verdict {
    Verdict {
        event_fits: facts.event_fits(definition),
        all: all.iter().map(|condition| facts.check(condition)).collect(),
        any: any.iter().map(|condition| facts.check(condition)).collect(),
    }
}

/// Whether the trigger fires, checking as little as needed.
pub(crate) fn fires(
    facts: &Facts<'_>,
    definition: &super::TriggerDefinition,
    all: &[CompiledCondition],
    any: &[CompiledCondition],
) -> bool {
    facts.event_fits(definition)
        && all.iter().all(|condition| facts.check(condition))
        && (any.is_empty() || any.iter().any(|condition| facts.check(condition)))
}
