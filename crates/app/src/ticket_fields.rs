//! Custom ticket fields: admins define them; agents (and, for the fields
//! visible to them, users) fill them in. Values are checked by kind.

use ferrodesk_core::FieldKind;
use ferrodesk_store::{
    FieldValueRecord, TicketFieldDefinition, TicketFieldRecord, TicketPriorityRecord,
};

use crate::audit::{Audit, Caller};
use crate::departments::checked_name;
use crate::error::taken;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

const MAX_CHOICES: usize = 200;
const MAX_CHOICE_CHARS: usize = 200;

/// A field definition as the admin form sends it.
#[derive(Debug, Clone, Default)]
pub struct FieldInput {
    pub name: String,
    pub kind: String,
    /// One choice per line.
    pub choices: String,
    pub is_required: bool,
    pub visible_to_users: bool,
    pub position: String,
}

/// A field with a ticket's value, for the ticket page.
#[derive(Debug, Clone)]
pub struct FieldView {
    pub field: TicketFieldRecord,
    pub kind: FieldKind,
    /// The stored value, if any (several choices one per line).
    pub value: Option<String>,
}

impl FieldView {
    pub fn choices(&self) -> Vec<&str> {
        choice_list(&self.field.choices)
    }

    /// Whether a choice is among the stored value's.
    pub fn has_choice(&self, choice: &str) -> bool {
        self.value
            .as_deref()
            .is_some_and(|value| value.lines().any(|picked| picked == choice))
    }

    pub fn text(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// The value as one line for lists and logs.
    pub fn display(&self) -> String {
        match (self.kind, self.value.as_deref()) {
            (_, None) => String::new(),
            (FieldKind::Checkbox, Some(_)) => "yes".to_owned(),
            (_, Some(value)) => value.lines().collect::<Vec<_>>().join(", "),
        }
    }
}

fn choice_list(choices: &str) -> Vec<&str> {
    choices
        .lines()
        .map(str::trim)
        .filter(|choice| !choice.is_empty())
        .collect()
}

/// The fields with a ticket's values, in the admin's order.
pub(crate) fn field_views(
    fields: Vec<TicketFieldRecord>,
    values: &[FieldValueRecord],
) -> Vec<FieldView> {
    fields
        .into_iter()
        .filter_map(|field| {
            let kind = FieldKind::from_key(&field.kind)?;
            let value = values
                .iter()
                .find(|value| value.field_id == field.id)
                .map(|value| value.value.clone());
            Some(FieldView { field, kind, value })
        })
        .collect()
}

/// Every value sent for one field, from (field id as sent, value) pairs.
pub(crate) fn values_for(sent: &[(String, String)], field_id: i64) -> Vec<&str> {
    let id = field_id.to_string();
    sent.iter()
        .filter(|(field, _)| *field == id)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The fields with what a form sent for them, to show the form again.
pub fn fields_as_sent(fields: Vec<TicketFieldRecord>, sent: &[(String, String)]) -> Vec<FieldView> {
    fields
        .into_iter()
        .filter_map(|field| {
            let kind = FieldKind::from_key(&field.kind)?;
            let values = values_for(sent, field.id);
            let value = (!values.is_empty()).then(|| values.join("\n"));
            Some(FieldView { field, kind, value })
        })
        .collect()
}

/// Checks what a form sent for each field (`sent(id)` gives every value of
/// the field's input) and returns (field id, new value) per field, with an
/// error per bad or missing required value under `field_<id>`.
pub(crate) fn checked_field_values<'a>(
    fields: &[TicketFieldRecord],
    sent: impl Fn(i64) -> Vec<&'a str>,
    errors: &mut FieldErrors,
) -> Vec<(i64, Option<String>)> {
    let mut values = Vec::with_capacity(fields.len());
    for field in fields {
        let Some(kind) = FieldKind::from_key(&field.kind) else {
            continue;
        };
        // The fields and their rules are the admin's: no request shape
        // states them, so a bad value is a value that names nothing here.
        match kind.parse(&choice_list(&field.choices), &sent(field.id)) {
            Ok(None) if field.is_required => {
                errors.add_unresolved("fields", format!("{} is required.", field.name));
            }
            Ok(value) => values.push((field.id, value)),
            Err(problem) => {
                errors.add_unresolved("fields", format!("{}: {problem}", field.name));
            }
        }
    }
    values
}

impl App {
    pub async fn ticket_fields(&self, actor: &Actor) -> AppResult<Vec<TicketFieldRecord>> {
        if !matches!(actor, Actor::Agent(_) | Actor::System) {
            return Err(AppError::Forbidden);
        }
        Ok(self.store().ticket_fields().list_ticket_fields().await?)
    }

    pub async fn ticket_field(&self, actor: &Actor, id: i64) -> AppResult<TicketFieldRecord> {
        actor.require_admin()?;
        self.store()
            .ticket_fields()
            .get_ticket_field(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    fn checked_field_input(
        input: &FieldInput,
        kind: Option<FieldKind>,
    ) -> AppResult<(String, FieldKind, String, i64)> {
        let mut errors = FieldErrors::new();
        let name = match checked_name(&input.name, "name") {
            Ok(name) => name,
            Err(AppError::Invalid(found)) => {
                errors.merge(found);
                String::new()
            }
            Err(other) => return Err(other),
        };
        let kind = kind.or_else(|| FieldKind::from_key(&input.kind));
        if kind.is_none() {
            errors.add("kind", "Choose a kind of field.");
        }
        let mut choices: Vec<&str> = Vec::new();
        for choice in choice_list(&input.choices) {
            if choice.chars().count() > MAX_CHOICE_CHARS || ferrodesk_core::hides_something(choice)
            {
                errors.add(
                    "choices",
                    format!("A choice is one line of at most {MAX_CHOICE_CHARS} characters."),
                );
            } else if !choices.contains(&choice) {
                choices.push(choice);
            }
        }
        if choices.len() > MAX_CHOICES {
            errors.add("choices", format!("At most {MAX_CHOICES} choices."));
        }
        if kind.is_some_and(FieldKind::has_choices) && choices.is_empty() {
            errors.add("choices", "List the choices, one per line.");
        }
        let position = match input.position.trim() {
            "" => 0,
            text => text.parse::<i64>().unwrap_or_else(|_| {
                errors.add("position", "The position is a whole number.");
                0
            }),
        };
        errors.into_result()?;
        let kind = kind.ok_or_else(|| AppError::invalid("kind", "Choose a kind of field."))?;
        let choices = if kind.has_choices() {
            choices.join("\n")
        } else {
            String::new()
        };
        Ok((name, kind, choices, position))
    }

    pub async fn create_ticket_field(
        &self,
        caller: &Caller<'_>,
        input: &FieldInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let (name, kind, choices, position) = Self::checked_field_input(input, None)?;
        let definition = TicketFieldDefinition {
            name: &name,
            kind: kind.key(),
            choices: &choices,
            is_required: input.is_required,
            visible_to_users: input.visible_to_users,
            position,
        };
        let audit = Audit::new(caller, "ticket_field.created")
            .on("ticket_field", None, &name)
            .after(&definition_json(&definition));
        Ok(self
            .store()
            .ticket_fields()
            .create_ticket_field(&definition, &audit.entry(), self.now())
            .await?)
    }

    /// Saves a field; its kind stays what it was.
    pub async fn update_ticket_field(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &FieldInput,
    ) -> AppResult<()> {
        let current = self.ticket_field(caller.actor, id).await?;
        let kind = FieldKind::from_key(&current.kind);
        let (name, kind, choices, position) = Self::checked_field_input(input, kind)?;
        let definition = TicketFieldDefinition {
            name: &name,
            kind: kind.key(),
            choices: &choices,
            is_required: input.is_required,
            visible_to_users: input.visible_to_users,
            position,
        };
        let before = TicketFieldDefinition {
            name: &current.name,
            kind: &current.kind,
            choices: &current.choices,
            is_required: current.is_required,
            visible_to_users: current.visible_to_users,
            position: current.position,
        };
        let audit = Audit::new(caller, "ticket_field.changed")
            .on("ticket_field", Some(id), &current.name)
            .change(&definition_json(&before), &definition_json(&definition));
        self.store()
            .ticket_fields()
            .update_ticket_field(id, &definition, &audit.entry(), self.now())
            .await?;
        Ok(())
    }

    /// Deletes a field and every ticket's value of it.
    pub async fn delete_ticket_field(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let current = self.ticket_field(caller.actor, id).await?;
        let audit =
            Audit::new(caller, "ticket_field.deleted").on("ticket_field", Some(id), &current.name);
        if !self
            .store()
            .ticket_fields()
            .delete_ticket_field(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}

/// The most entries the priority list may have.
const MAX_PRIORITIES: usize = 20;

impl App {
    /// The priority list, for agents filing and admins managing it.
    pub async fn ticket_priorities(&self, actor: &Actor) -> AppResult<Vec<TicketPriorityRecord>> {
        match actor {
            Actor::Agent(_) | Actor::System => Ok(self
                .store()
                .ticket_fields()
                .list_ticket_priorities()
                .await?),
            Actor::Visitor | Actor::User(_) => Err(AppError::Forbidden),
        }
    }

    /// Adds an entry to the priority list at `position` (the list is in
    /// ascending order).
    pub async fn create_ticket_priority(
        &self,
        caller: &Caller<'_>,
        name: &str,
        position: &str,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let name = checked_name(name, "priority")?;
        let position = match position.trim() {
            "" => 0,
            text => text
                .parse::<i64>()
                .ok()
                .filter(|position| position.abs() <= 10_000)
                .ok_or_else(|| {
                    AppError::invalid(
                        "priority_position",
                        "A position is a whole number up to 10,000.",
                    )
                })?,
        };
        if self
            .store()
            .ticket_fields()
            .list_ticket_priorities()
            .await?
            .len()
            >= MAX_PRIORITIES
        {
            return Err(AppError::invalid(
                "priority",
                format!("The list holds at most {MAX_PRIORITIES} priorities."),
            ));
        }
        let audit = Audit::new(caller, "ticket_priority.created")
            .on("ticket_priority", None, &name)
            .after(&serde_json::json!({ "name": name, "position": position }));
        self.store()
            .ticket_fields()
            .create_ticket_priority(&name, position, &audit.entry(), self.now())
            .await
            .map_err(taken("priority", "The list has this priority already."))
    }

    /// Deletes an entry; tickets that had it keep no priority.
    pub async fn delete_ticket_priority(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let current = self
            .store()
            .ticket_fields()
            .list_ticket_priorities()
            .await?
            .into_iter()
            .find(|priority| priority.id == id)
            .ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "ticket_priority.deleted")
            .on("ticket_priority", Some(id), &current.name)
            .change(
                &serde_json::json!({ "name": current.name, "position": current.position }),
                &serde_json::json!(null),
            );
        if !self
            .store()
            .ticket_fields()
            .delete_ticket_priority(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}

fn definition_json(definition: &TicketFieldDefinition<'_>) -> serde_json::Value {
    serde_json::json!({
        "name": definition.name,
        "kind": definition.kind,
        "choices": definition.choices,
        "required": definition.is_required,
        "visible_to_users": definition.visible_to_users,
        "position": definition.position,
    })
}
