//! SLAs for admins (the list and the form: targets in hours with their
//! warnings, a calendar, criteria and the actions of a missed target), and
//! a ticket's SLA as its page shows it.

use ferrodesk_store::SlaWrite;

use super::slas::{SlaDefinition, TARGETS, TargetTime};
use super::triggers::{ActionRow, ConditionRow, checked_rule_name, find_by_name, name_of};
use crate::audit::{Audit, Caller};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The longest target: a year of hours.
const MAX_HOURS: f64 = 366.0 * 24.0;

/// An SLA as the form sends and shows it. Times are hours ("4", "0.5").
#[derive(Debug, Clone, Default)]
pub struct SlaInput {
    pub name: String,
    pub is_enabled: bool,
    /// A business-hours calendar's name; empty for wall time.
    pub calendar: String,
    /// (target key, hours, warn after hours), for each of `TARGETS`.
    pub targets: Vec<(String, String, String)>,
    pub all: Vec<ConditionRow>,
    pub any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
}

#[derive(Debug, Clone)]
pub struct SlaSummary {
    pub id: i64,
    pub name: String,
    pub is_enabled: bool,
    /// "First response 4 h (warn at 3 h) · Resolution 40 h".
    pub targets: String,
    pub time: String,
}

#[derive(Debug, Clone)]
pub struct SlaView {
    pub id: i64,
    pub input: SlaInput,
    pub fields: Vec<(i64, String)>,
    pub calendars: Vec<String>,
}

/// What testing an SLA against a ticket found.
#[derive(Debug, Clone, Default)]
pub struct SlaTest {
    pub reference: String,
    /// Each condition in words with whether it holds: (group, words, held).
    pub conditions: Vec<(&'static str, String, bool)>,
    /// Whether its conditions hold.
    pub matches: bool,
    /// An SLA before it in the order that would take the ticket instead.
    pub taken_by: Option<String>,
    /// The targets it would set, as the ticket page would show them.
    pub targets: Vec<SlaTargetView>,
}

/// One of a ticket's targets, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaTargetView {
    pub label: &'static str,
    /// `ok`, `warning`, `failed`, `paused` or `met`.
    pub state: &'static str,
    pub words: String,
}

fn hours_text(minutes: i64) -> String {
    if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{:.2}", minutes as f64 / 60.0)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

fn minutes_of(text: &str) -> Option<i64> {
    let hours: f64 = text.trim().replace(',', ".").parse().ok()?;
    if !(hours > 0.0 && hours <= MAX_HOURS) {
        return None;
    }
    // Whole minutes; a target shorter than a minute makes no sense.
    let minutes = (hours * 60.0).round();
    (minutes >= 1.0).then_some(minutes as i64)
}

/// "2 h 5 min", "45 min", "3 d 4 h"; working time in hours only (a day
/// of it is not 24 hours).
pub(crate) fn span_words(millis: i64, working: bool) -> String {
    let minutes = millis.max(0) / 60_000;
    if working {
        let (hours, minutes) = (minutes / 60, minutes % 60);
        return match (hours, minutes) {
            (0, _) => format!("{minutes} min"),
            (_, 0) => format!("{hours} h"),
            _ => format!("{hours} h {minutes} min"),
        };
    }
    let (days, hours, minutes) = (minutes / 1_440, minutes % 1_440 / 60, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) if minutes > 0 => format!("{hours} h {minutes} min"),
        (0, _) => format!("{hours} h"),
        _ if hours > 0 => format!("{days} d {hours} h"),
        _ => format!("{days} d"),
    }
}

impl App {
    async fn checked_sla(&self, input: &SlaInput) -> AppResult<(String, SlaDefinition)> {
        let mut errors = FieldErrors::new();
        let name = checked_rule_name(&input.name, "SLA", &mut errors);
        let mut definition = SlaDefinition::default();
        for (key, label) in TARGETS {
            let Some((_, hours, warn)) = input.targets.iter().find(|(kind, _, _)| kind == key)
            else {
                continue;
            };
            if hours.trim().is_empty() {
                continue;
            }
            let Some(minutes) = minutes_of(hours) else {
                errors.add(
                    key,
                    format!("{label}: give the time in hours, more than 0 and at most a year."),
                );
                continue;
            };
            let warn_minutes = if warn.trim().is_empty() {
                minutes
            } else {
                match minutes_of(warn) {
                    Some(warn) if warn <= minutes => warn,
                    _ => {
                        errors.add(key, format!("{label}: the warning comes after more than 0 hours and no later than the target."));
                        continue;
                    }
                }
            };
            let time = Some(TargetTime {
                minutes,
                warn_minutes,
            });
            match key {
                "first_response" => definition.first_response = time,
                "next_response" => definition.next_response = time,
                _ => definition.resolution = time,
            }
        }
        if definition.first_response.is_none()
            && definition.next_response.is_none()
            && definition.resolution.is_none()
            && errors.is_empty()
        {
            errors.add("first_response", "Set at least one target.");
        }
        let names = self.rule_names().await?;
        if !input.calendar.trim().is_empty() {
            definition.calendar_id = find_by_name(&names.calendars, &input.calendar);
            if definition.calendar_id.is_none() {
                errors.add(
                    "calendar",
                    format!(
                        "No business-hours calendar is called \"{}\".",
                        input.calendar.trim()
                    ),
                );
            }
        }
        let rows = self
            .checked_rows(
                &names,
                (&input.all, &input.any, &input.actions),
                false,
                &mut errors,
            )
            .await;
        (definition.all, definition.any, definition.actions) = (rows.all, rows.any, rows.actions);
        errors.into_result()?;
        Ok((name.to_owned(), definition))
    }

    fn sla_time_words(&self, calendars: &[(i64, String)], definition: &SlaDefinition) -> String {
        definition.calendar_id.map_or_else(
            || "wall time".to_owned(),
            |id| format!("working time of {}", name_of(calendars, id)),
        )
    }

    /// Every SLA, in the order they are tried (admins).
    pub async fn slas(&self, actor: &Actor) -> AppResult<Vec<SlaSummary>> {
        actor.require_admin()?;
        let names = self.rule_names().await?;
        Ok(self
            .store()
            .slas()
            .list_slas()
            .await?
            .into_iter()
            .filter_map(|record| {
                let definition: SlaDefinition = serde_json::from_str(&record.definition).ok()?;
                let targets: Vec<String> = TARGETS
                    .iter()
                    .filter_map(|(key, label)| {
                        let time = definition.target(key)?;
                        let warn = if time.warn_minutes < time.minutes {
                            format!(" (warn at {} h)", hours_text(time.warn_minutes))
                        } else {
                            String::new()
                        };
                        Some(format!("{label} {} h{warn}", hours_text(time.minutes)))
                    })
                    .collect();
                Some(SlaSummary {
                    id: record.id,
                    name: record.name,
                    is_enabled: record.is_enabled,
                    targets: targets.join(" · "),
                    time: self.sla_time_words(&names.calendars, &definition),
                })
            })
            .collect())
    }

    /// Custom fields and calendars an SLA's form offers.
    pub async fn sla_form_choices(
        &self,
        actor: &Actor,
    ) -> AppResult<(Vec<(i64, String)>, Vec<String>)> {
        self.escalation_form_choices(actor).await
    }

    pub async fn sla(&self, actor: &Actor, id: i64) -> AppResult<SlaView> {
        actor.require_admin()?;
        let record = self
            .store()
            .slas()
            .get_sla(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let definition: SlaDefinition = serde_json::from_str(&record.definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let names = self.rule_names().await?;
        let input = SlaInput {
            name: record.name,
            is_enabled: record.is_enabled,
            calendar: definition
                .calendar_id
                .map(|id| name_of(&names.calendars, id))
                .unwrap_or_default(),
            targets: TARGETS
                .iter()
                .map(|(key, _)| {
                    let time = definition.target(key);
                    (
                        (*key).to_owned(),
                        time.map(|time| hours_text(time.minutes))
                            .unwrap_or_default(),
                        time.map(|time| hours_text(time.warn_minutes))
                            .unwrap_or_default(),
                    )
                })
                .collect(),
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
        Ok(SlaView {
            id: record.id,
            input,
            fields: names.fields,
            calendars: names.calendars.into_iter().map(|(_, name)| name).collect(),
        })
    }

    pub async fn create_sla(&self, caller: &Caller<'_>, input: &SlaInput) -> AppResult<i64> {
        caller.actor.require_admin()?;
        let (name, definition) = self.checked_sla(input).await?;
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let id = self
            .store()
            .slas()
            .create_sla(
                &SlaWrite {
                    name: &name,
                    is_enabled: input.is_enabled,
                    definition: &json,
                },
                self.now(),
            )
            .await?;
        self.wake_workers();
        let audit = Audit::new(caller, "sla.created")
            .on("sla", Some(id), &name)
            .after(&serde_json::json!({"enabled": input.is_enabled, "definition": definition}));
        self.audit(&audit).await?;
        Ok(id)
    }

    pub async fn update_sla(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &SlaInput,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let before = self
            .store()
            .slas()
            .get_sla(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let (name, definition) = self.checked_sla(input).await?;
        let json = serde_json::to_string(&definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let write = SlaWrite {
            name: &name,
            is_enabled: input.is_enabled,
            definition: &json,
        };
        if !self
            .store()
            .slas()
            .update_sla(id, &write, self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        self.wake_workers();
        let old: serde_json::Value = serde_json::from_str(&before.definition).unwrap_or_default();
        let audit = Audit::new(caller, "sla.changed").on("sla", Some(id), &name).change(
            &serde_json::json!({"name": before.name, "enabled": before.is_enabled, "definition": old}),
            &serde_json::json!({"name": name, "enabled": input.is_enabled, "definition": definition}),
        );
        self.audit(&audit).await
    }

    pub async fn delete_sla(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        let record = self
            .store()
            .slas()
            .get_sla(id)
            .await?
            .ok_or(AppError::NotFound)?;
        if !self.store().slas().delete_sla(id).await? {
            return Err(AppError::NotFound);
        }
        let old: serde_json::Value = serde_json::from_str(&record.definition).unwrap_or_default();
        let audit = Audit::new(caller, "sla.deleted")
            .on("sla", Some(id), &record.name)
            .change(
                &Some(serde_json::json!({"name": record.name, "definition": old})),
                &None,
            );
        self.audit(&audit).await
    }

    /// What an SLA would do to a ticket as it is now: which conditions
    /// hold, whether an SLA before it would take the ticket, and the
    /// targets it would set. Nothing is written.
    pub async fn test_sla(&self, actor: &Actor, id: i64, reference: &str) -> AppResult<SlaTest> {
        actor.require_admin()?;
        let record = self
            .store()
            .slas()
            .get_sla(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let definition: SlaDefinition = serde_json::from_str(&record.definition)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let not_found = || AppError::invalid("reference", "No ticket has that reference.");
        let key = crate::tickets::TicketKey::parse(reference).map_err(|_| not_found())?;
        let ticket = self.ticket_by_key(&key).await.map_err(|_| not_found())?;
        let scene = self
            .scene_of(
                ticket,
                String::new(),
                super::definition::ActorKind::Agent,
                true,
            )
            .await?;
        let facts = super::criteria::Facts {
            event: super::definition::TriggerEvent::TicketUpdated,
            actor: scene.actor,
            channel: "agent",
            ticket: &scene.model,
            requester_email: &scene.requester_email,
            requester_name: &scene.requester_name,
            organization_id: scene.ticket.organization_id,
            message: "",
            changes: &[],
            priority_names: &scene.priority_names,
            field_names: &scene.field_names,
            calendars: &scene.calendars,
            now: self.now(),
        };
        let holds = |conditions: &[super::criteria::CompiledCondition]| -> Vec<bool> {
            conditions
                .iter()
                .map(|condition| facts.check(condition))
                .collect()
        };
        let compiled = |conditions: &[super::definition::Condition]| -> Vec<super::criteria::CompiledCondition> {
            conditions.iter().cloned().map(super::criteria::CompiledCondition::new).collect()
        };
        let all = holds(&compiled(&definition.all));
        let any = holds(&compiled(&definition.any));
        let matches =
            all.iter().all(|held| *held) && (any.is_empty() || any.iter().any(|held| *held));
        let names = self.rule_names().await?;
        let mut conditions = Vec::new();
        for (condition, held) in definition.all.iter().zip(&all) {
            conditions.push(("all", self.condition_words(&names, condition), *held));
        }
        for (condition, held) in definition.any.iter().zip(&any) {
            conditions.push(("any", self.condition_words(&names, condition), *held));
        }
        let set = self.active_slas().await?;
        let taken_by = set
            .slas
            .iter()
            .take_while(|sla| sla.id != id)
            .find(|sla| {
                sla.rule.all.iter().all(|condition| facts.check(condition))
                    && (sla.rule.any.is_empty()
                        || sla.rule.any.iter().any(|condition| facts.check(condition)))
            })
            .map(|sla| sla.name.clone());
        let mut targets = Vec::new();
        if let Some(candidate) = super::slas::ActiveSla::for_test(&record, definition.clone()) {
            let calendar = match definition.calendar_id {
                Some(id) => self.working_calendar(id).await?,
                None => None,
            };
            let event = super::slas::SlaEvent {
                user_replied: false,
                agent_replied: false,
            };
            let now = self.now().millis();
            if let Some((rows, _, _)) = super::slas::targets_after(
                Some(&candidate),
                calendar.as_ref(),
                &scene.ticket,
                scene.model.status,
                event,
                &[],
                now,
            ) {
                let working = calendar.is_some();
                for (key, label) in TARGETS {
                    let Some(row) = rows.iter().find(|row| row.target == key) else {
                        continue;
                    };
                    let due = ferrodesk_core::Timestamp(row.due_at);
                    let (state, words) = match row.state.as_str() {
                        "met" => ("met", "met".to_owned()),
                        "failed" => ("failed", format!("missed (due {due})")),
                        "paused" => (
                            "paused",
                            format!(
                                "paused, {} left",
                                span_words(row.left_to_due.unwrap_or(0), working)
                            ),
                        ),
                        _ if row.due_at <= now => ("failed", format!("due {due}, already missed")),
                        _ => ("ok", format!("due {due}")),
                    };
                    targets.push(SlaTargetView {
                        label,
                        state,
                        words,
                    });
                }
            }
        }
        Ok(SlaTest {
            reference: scene.ticket.reference.to_string(),
            conditions,
            matches,
            taken_by,
            targets,
        })
    }

    /// Chooses the SLA of a ticket (agents who may edit it), over the one
    /// the SLAs' criteria pick; `None` goes back to the criteria. The
    /// ticket's rules job puts the SLA's targets on it; the choice is in
    /// its log.
    pub async fn choose_ticket_sla(
        &self,
        caller: &Caller<'_>,
        key: &crate::TicketKey,
        sla_id: Option<i64>,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        let set = self.active_slas().await?;
        let name_of = |id: Option<i64>| {
            id.and_then(|id| set.slas.iter().find(|sla| sla.id == id))
                .map(|sla| sla.name.clone())
        };
        if sla_id.is_some() && name_of(sla_id).is_none() {
            return Err(AppError::invalid(
                "sla",
                "That SLA does not exist or is switched off.",
            ));
        }
        let tickets = self.store().tickets();
        let before = tickets.chosen_sla(ticket.id).await?;
        if before == sla_id {
            return Ok(());
        }
        let log = [ferrodesk_store::NewLogEntry {
            field: "sla",
            before: name_of(before),
            after: name_of(sla_id),
        }];
        tickets
            .choose_sla(ticket.id, sla_id, context.actor(), &log, self.now())
            .await?;
        self.wake_workers();
        Ok(())
    }

    /// A ticket's SLA name and targets as its page shows them (the caller
    /// has checked the agent may see the ticket).
    pub(crate) async fn ticket_sla(
        &self,
        ticket_id: i64,
    ) -> AppResult<Option<(String, Vec<SlaTargetView>)>> {
        let targets = self.store().slas().ticket_targets(ticket_id).await?;
        let Some(first) = targets.first() else {
            return Ok(None);
        };
        let Some(record) = self.store().slas().get_sla(first.sla_id).await? else {
            return Ok(None);
        };
        let definition: SlaDefinition =
            serde_json::from_str(&record.definition).unwrap_or_default();
        let calendar = match definition.calendar_id {
            Some(id) => self.working_calendar(id).await?,
            None => None,
        };
        let now = self.now().millis();
        let left = |until: i64| match &calendar {
            Some(calendar) => calendar.working_time_between(
                ferrodesk_core::Timestamp(now),
                ferrodesk_core::Timestamp(until),
            ),
            None => until - now,
        };
        let working = calendar.is_some();
        let time = if working { " of working time" } else { "" };
        let mut views = Vec::new();
        for (key, label) in TARGETS {
            let Some(target) = targets.iter().find(|target| target.target == key) else {
                continue;
            };
            let (state, words) = match target.state.as_str() {
                "met" => ("met", "met".to_owned()),
                "paused" => (
                    "paused",
                    format!(
                        "paused, {} left{time} (waiting on the user)",
                        span_words(target.left_to_due.unwrap_or(0), working)
                    ),
                ),
                "failed" | "breaching" => (
                    "failed",
                    match target.met_at {
                        Some(at) => {
                            format!("missed, met {} late", span_words(at - target.due_at, false))
                        }
                        None => format!("missed {} ago", span_words(now - target.due_at, false)),
                    },
                ),
                _ if target.due_at <= now => (
                    "failed",
                    format!("missed {} ago", span_words(now - target.due_at, false)),
                ),
                _ if target.warn_at <= now => (
                    "warning",
                    format!("due in {}{time}", span_words(left(target.due_at), working)),
                ),
                _ => (
                    "ok",
                    format!("due in {}{time}", span_words(left(target.due_at), working)),
                ),
            };
            views.push(SlaTargetView {
                label,
                state,
                words,
            });
        }
        Ok(Some((record.name, views)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_read_and_written_back() {
        assert_eq!(minutes_of("4"), Some(240));
        assert_eq!(minutes_of("0,5"), Some(30));
        assert_eq!(minutes_of("0"), None);
        assert_eq!(minutes_of("lots"), None);
        assert_eq!(hours_text(240), "4");
        assert_eq!(hours_text(90), "1.5");
        assert_eq!(span_words(3 * 3_600_000 + 5 * 60_000, false), "3 h 5 min");
        assert_eq!(span_words(26 * 3_600_000, false), "1 d 2 h");
        assert_eq!(span_words(40 * 3_600_000, true), "40 h");
    }
}
