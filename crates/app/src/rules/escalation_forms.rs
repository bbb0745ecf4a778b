//! Escalations for admins: the list and the form (a clock, its length in
//! wall time or a calendar's working time, criteria and actions in the
//! triggers' words). Saving one starts its timers on the tickets already
//! in its state, in a background job.

use ferrodesk_store::EscalationWrite;

use super::escalations::{Clock, EscalationDefinition};
use super::triggers::{
    ActionRow, CheckedRows, ConditionRow, checked_rule_name, find_by_name, name_of,
};
use crate::audit::{Audit, Caller};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The longest clock: a year.
const MAX_MINUTES: i64 = 366 * 24 * 60;

/// An escalation as the form sends and shows it.
#[derive(Debug, Clone, Default)]
pub struct EscalationInput {
    pub name: String,
    pub is_enabled: bool,
    /// A `Clock` key.
    pub clock: String,
    /// How long, in `unit`s.
    pub amount: String,
    /// `minutes`, `hours` or `days`.
    pub unit: String,
    /// A business-hours calendar's name; empty for wall time.
    pub calendar: String,
    pub all: Vec<ConditionRow>,
    pub any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
}

/// An escalation in the list.
#[derive(Debug, Clone)]
pub struct EscalationSummary {
    pub id: i64,
    pub name: String,
    pub is_enabled: bool,
    /// "Waiting on the user for 7 days (wall time)".
    pub when: String,
    pub action_count: usize,
}

/// An escalation's page.
#[derive(Debug, Clone)]
pub struct EscalationView {
    pub id: i64,
    pub input: EscalationInput,
    pub fields: Vec<(i64, String)>,
    pub calendars: Vec<String>,
}

/// A length in the largest unit that divides it.
fn length_words(minutes: i64) -> (String, &'static str) {
    if minutes % (24 * 60) == 0 {
        ((minutes / (24 * 60)).to_string(), "days")
    } else if minutes % 60 == 0 {
        ((minutes / 60).to_string(), "hours")
    } else {
        (minutes.to_string(), "minutes")
    }
}

impl App {
    async fn checked_escalation(
        &self,
        input: &EscalationInput,
    ) -> AppResult<(String, EscalationDefinition)> {
        let mut errors = FieldErrors::new();
        let name = checked_rule_name(&input.name, "escalation", &mut errors);
        let clock = Clock::from_key(&input.clock);
        if clock.is_none() {
            errors.add("clock", "Choose which clock the escalation watches.");
        }
        let per_unit = match input.unit.as_str() {
            "minutes" => Some(1),
            "hours" => Some(60),
            "days" => Some(24 * 60),
            _ => None,
        };
        let minutes = input
            .amount
            .trim()
            .parse::<i64>()
            .ok()
            .zip(per_unit)
            .map(|(amount, per_unit)| amount.saturating_mul(per_unit))
            .filter(|minutes| (1..=MAX_MINUTES).contains(minutes));
        if minutes.is_none() {
            errors.add(
                "amount",
                "Give a whole number of minutes, hours or days, up to a year.",
            );
        }
        let names = self.rule_names().await?;
        let calendar_id = if input.calendar.trim().is_empty() {
            None
        } else {
            let found = find_by_name(&names.calendars, &input.calendar);
            if found.is_none() {
                errors.add(
                    "calendar",
                    format!(
                        "No business-hours calendar is called \"{}\".",
                        input.calendar.trim()
                    ),
                );
            }
            found
        };
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
            EscalationDefinition {
                clock: clock.unwrap_or(Clock::Open),
                minutes: minutes.unwrap_or(1),
                calendar_id,
                all,
                any,
                actions,
            },
        ))
    }

    /// Every escalation (admins).
    pub async fn escalations(&self, actor: &Actor) -> AppResult<Vec<EscalationSummary>> {
        actor.require_admin()?;
        let names = self.rule_names().await?;
        Ok(self
            .store()
            .escalations()
            .list_escalations()
            .await?
            .into_iter()
            .filter_map(|record| {
                let definition: EscalationDefinition =
                    serde_json::from_str(&record.definition).ok()?;
                let (amount, unit) = length_words(definition.minutes);
                let time = definition.calendar_id.map_or_else(
                    || "wall time".to_owned(),
                    |id| format!("working time of {}", name_of(&names.calendars, id)),
                );
                Some(EscalationSummary {
                    id: record.id,
                    name: record.name,
                    is_enabled: record.is_enabled,
                    when: format!("{} {amount} {unit} ({time})", definition.clock.label()),
                    action_count: definition.actions.len(),
                })
            })
            .collect())
    }

    /// What an escalation's form offers: custom fields and calendars.
    pub async fn escalation_form_choices(
        &self,
        actor: &Actor,
    ) -> AppResult<(Vec<(i64, String)>, Vec<String>)> {
        actor.require_admin()?;
        let names = self.rule_names().await?;
        Ok((
            names.fields,
            names.calendars.into_iter().map(|(_, name)| name).collect(),
        ))
    }

    /// One escalation in the form's words (admins).
    pub async fn escalation(&self, actor: &Actor, id: i64) -> AppResult<EscalationView> {
        actor.require_admin()?;
        let record = self
            .store()
            .escalations()
            .get_escalation(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let definition: EscalationDefinition = serde_json::from_str(&record.definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let names = self.rule_names().await?;
        let (amount, unit) = length_words(definition.minutes);
        let input = EscalationInput {
            name: record.name,
            is_enabled: record.is_enabled,
            clock: definition.clock.key().to_owned(),
            amount,
            unit: unit.to_owned(),
            calendar: definition
                .calendar_id
                .map(|id| name_of(&names.calendars, id))
                .unwrap_or_default(),
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
        Ok(EscalationView {
            id: record.id,
            input,
            fields: names.fields,
            calendars: names.calendars.into_iter().map(|(_, name)| name).collect(),
        })
    }

    pub async fn create_escalation(
        &self,
        caller: &Caller<'_>,
        input: &EscalationInput,
    ) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let (name, definition) = self.checked_escalation(input).await?;
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let id = self
            .store()
            .escalations()
            .create_escalation(
                &EscalationWrite {
                    name: &name,
                    is_enabled: input.is_enabled,
                    definition: &json,
                },
                self.now(),
            )
            .await?;
        self.wake_workers();
        let audit = Audit::new(caller, "escalation.created")
            .on("escalation", Some(id), &name)
            .after(&serde_json::json!({"enabled": input.is_enabled, "definition": definition}));
        self.audit(&audit).await?;
        Ok(id)
    }

    pub async fn update_escalation(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &EscalationInput,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let before = self
            .store()
            .escalations()
            .get_escalation(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let (name, definition) = self.checked_escalation(input).await?;
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let write = EscalationWrite {
            name: &name,
            is_enabled: input.is_enabled,
            definition: &json,
        };
        if !self
            .store()
            .escalations()
            .update_escalation(id, &write, self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        self.wake_workers();
        let old: serde_json::Value = serde_json::from_str(&before.definition).unwrap_or_default();
        let audit = Audit::new(caller, "escalation.changed")
            .on("escalation", Some(id), &name)
            .change(
                &serde_json::json!({"name": before.name, "enabled": before.is_enabled, "definition": old}),
                &serde_json::json!({"name": name, "enabled": input.is_enabled, "definition": definition}),
            );
        self.audit(&audit).await
    }

    pub async fn delete_escalation(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let record = self
            .store()
            .escalations()
            .get_escalation(id)
            .await?
            .ok_or(AppError::NotFound)?;
        if !self.store().escalations().delete_escalation(id).await? {
            return Err(AppError::NotFound);
        }
        let old: serde_json::Value = serde_json::from_str(&record.definition).unwrap_or_default();
        let audit = Audit::new(caller, "escalation.deleted")
            .on("escalation", Some(id), &record.name)
            .change(
                &Some(serde_json::json!({"name": record.name, "definition": old})),
                &None,
            );
        self.audit(&audit).await
    }
}
