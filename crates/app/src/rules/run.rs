//! The rules job: one per ticket event, queued in the event's own
//! transaction. It runs the enabled triggers in the admins' order against
//! the ticket as the earlier triggers have left it, lets the changes the
//! rules made fire "ticket updated" for the triggers that have not fired
//! yet (each trigger fires at most once per event chain, and a chain is
//! at most `MAX_CHAIN_ROUNDS` rounds long), queues the webhook deliveries
//! for the event, and writes everything in one transaction that also
//! removes the job: an event's rules take effect exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ferrodesk_core::{Labels, TicketStatus, Urgency};
use ferrodesk_store::{
    AgentNotice, ClaimedJob, NewDelivery, NewLogEntry, NewMessage, RuleOutcome, RuleStep,
    RuleWrite, TicketProperties, TicketRecord,
};
use serde::Deserialize;

use super::criteria::{Change, Facts, TicketModel, fires};
use super::definition::{
    ActorKind, AgentNoticeKind, Assignment, Recipients, RuleAction, TriggerEvent,
};
use super::{ActiveTrigger, TriggerSet};
use crate::jobs::{JobFailure, JobResult};
use crate::mail::ComposedMail;
use crate::{App, AppResult};

/// Rounds of "ticket updated" the rules' own changes may set off.
pub const MAX_CHAIN_ROUNDS: usize = 4;
/// How often the rules read the ticket again when someone changed it
/// while they ran.
const READS: usize = 3;

/// The rules job's payload, as the store writes it.
#[derive(Debug, Deserialize)]
pub(crate) struct RulesEvent {
    pub ticket_id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub channel: String,
    pub message_id: Option<i64>,
    #[serde(default)]
    pub changes: Vec<(String, Option<String>, Option<String>)>,
    /// The message is an automatic mail: rules mail its sender nothing.
    #[serde(default)]
    pub automatic: bool,
}

impl RulesEvent {
    pub fn trigger_event(&self) -> TriggerEvent {
        match self.event.as_str() {
            "created" => TriggerEvent::NewTicket,
            "replied" => TriggerEvent::NewReply,
            _ => TriggerEvent::TicketUpdated,
        }
    }

    /// The webhook event key.
    pub fn webhook_event(&self) -> &'static str {
        match self.event.as_str() {
            "created" => "ticket.created",
            "replied" => "ticket.replied",
            "noted" => "ticket.noted",
            _ => "ticket.updated",
        }
    }
}

/// Which job writes an outcome, and what it marks done with it.
pub(crate) struct JobMark<'a> {
    pub job_id: i64,
    pub owner: &'a str,
    /// An escalation timer: (escalation, basis).
    pub fired_timer: Option<(i64, i64)>,
    /// A missed SLA target: (target, due time).
    pub breached: Option<(&'a str, i64)>,
}

/// A ticket-log line: (field, before, after).
pub(crate) type LogLine = (&'static str, Option<String>, Option<String>);

/// What the rules of an event do, gathered before anything is written.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Each trigger that fired with its log lines.
    pub steps: Vec<(String, Vec<LogLine>)>,
    pub notes: Vec<(String, String)>,
    pub mails: Vec<ComposedMail>,
    /// Agents' notification mails to queue, each kind once.
    pub notices: Vec<AgentNoticeKind>,
    pub cc_ids: Vec<i64>,
    pub follower_ids: Vec<i64>,
    /// Webhooks a trigger calls: (webhook, trigger name).
    pub webhook_calls: Vec<(i64, String)>,
    /// (trigger, agent it had picked last, agent it picks now).
    pub round_robin: Vec<(i64, Option<i64>, i64)>,
    /// Names of the triggers that fired, in order.
    pub fired: Vec<String>,
    /// What could not be done, for the log and a test's report.
    pub problems: Vec<String>,
    /// A test: nothing is created, counted or sent; what would be is
    /// described in `previews`.
    pub dry_run: bool,
    pub previews: Vec<String>,
}

/// The ticket and the people around it, read once per event.
#[derive(Clone)]
pub(crate) struct Scene {
    pub ticket: TicketRecord,
    pub model: TicketModel,
    pub requester_email: String,
    pub requester_name: String,
    pub message: String,
    pub actor: ActorKind,
    pub priority_names: HashMap<i64, String>,
    pub field_names: HashMap<i64, String>,
    pub calendars: HashMap<i64, ferrodesk_core::BusinessCalendar>,
    /// When the ticket entered its status (its last change for tickets
    /// from before this was kept).
    pub status_since: i64,
    /// The event's message is an automatic mail: nobody outside the desk
    /// is mailed back.
    pub automatic: bool,
}

impl Plan {
    /// Adds what a later run of rules did.
    pub fn absorb(&mut self, other: Plan) {
        self.steps.extend(other.steps);
        self.notes.extend(other.notes);
        self.mails.extend(other.mails);
        for notice in other.notices {
            if !self.notices.contains(&notice) {
                self.notices.push(notice);
            }
        }
        self.cc_ids.extend(other.cc_ids);
        self.follower_ids.extend(other.follower_ids);
        self.webhook_calls.extend(other.webhook_calls);
        self.round_robin.extend(other.round_robin);
        self.fired.extend(other.fired);
        self.problems.extend(other.problems);
        self.previews.extend(other.previews);
    }
}

impl App {
    /// The rules job (see the module's note).
    pub(crate) async fn ticket_rules_job(&self, job: &ClaimedJob, owner: &str) -> JobResult {
        let event: RulesEvent = serde_json::from_str(&job.payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {}", job.payload)))?;
        for _ in 0..READS {
            match self.run_rules_once(&event, job.id, owner).await? {
                RuleWrite::TicketChanged => continue,
                RuleWrite::Written | RuleWrite::LeaseLost => return Ok(()),
            }
        }
        Err(JobFailure::Retry(
            "the ticket kept changing while its rules ran".into(),
        ))
    }

    async fn run_rules_once(
        &self,
        event: &RulesEvent,
        job_id: i64,
        owner: &str,
    ) -> AppResult<RuleWrite> {
        let triggers = self.active_triggers().await?;
        let webhooks = self.webhooks_for(event.webhook_event()).await?;
        let escalations = self.active_escalations().await?;
        let slas = self.active_slas().await?;
        if triggers.triggers.is_empty()
            && webhooks.is_empty()
            && escalations.escalations.is_empty()
            && slas.slas.is_empty()
        {
            return Ok(RuleWrite::Written);
        }
        // Escalations and SLAs read the scene too (their timers, their
        // criteria), so their conditions count as well as the triggers'.
        let with_calendars = triggers.needs_calendars
            || escalations
                .escalations
                .iter()
                .any(|escalation| escalation.rule.uses_business_hours())
            || slas.slas.iter().any(|sla| sla.rule.uses_business_hours());
        let Some(scene) = self.rules_scene(event, with_calendars).await? else {
            return Ok(RuleWrite::Written);
        };
        let started = std::time::Instant::now();
        let (plan, model) = self.run_chain(&triggers, event, &scene).await?;
        tracing::debug!(
            ticket_id = event.ticket_id,
            fired = plan.fired.len(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "rules ran"
        );
        let mark = JobMark {
            job_id,
            owner,
            fired_timer: None,
            breached: None,
        };
        self.write_plan(&scene, event, plan, model, mark).await
    }

    /// Writes what rules did to a ticket (with the event's webhook
    /// deliveries and the ticket's escalation timers) in one transaction
    /// that removes their job.
    pub(crate) async fn write_plan(
        &self,
        scene: &Scene,
        event: &RulesEvent,
        plan: Plan,
        model: TicketModel,
        mark: JobMark<'_>,
    ) -> AppResult<RuleWrite> {
        let JobMark {
            job_id,
            owner,
            fired_timer,
            breached,
        } = mark;
        let by_job = fired_timer.is_some() || breached.is_some();
        let before = scene.model.clone();
        let webhooks = if by_job && model == before {
            Vec::new()
        } else if by_job {
            self.webhooks_for("ticket.updated").await?
        } else {
            self.webhooks_for(event.webhook_event()).await?
        };
        for problem in &plan.problems {
            tracing::warn!(ticket_id = event.ticket_id, %problem, "a rule could not do everything");
        }
        let status_since = if model.status == before.status {
            scene.status_since
        } else {
            self.now().millis()
        };
        let timers = self
            .timer_changes_for(
                scene.ticket.id,
                scene.ticket.created_at,
                model.status,
                status_since,
            )
            .await?;
        let targets = self.sla_targets_for(scene, &model, event, breached).await?;
        let changed = model != before;
        // Webhooks hear of the event with the ticket as the rules left it.
        let ticket_json = self.webhook_ticket(scene, &model).await?;
        let mut deliveries = Vec::new();
        for hook in &webhooks {
            deliveries.push((hook.id, event.webhook_event().to_owned(), None));
        }
        for (webhook_id, trigger) in &plan.webhook_calls {
            deliveries.push((
                *webhook_id,
                event.webhook_event().to_owned(),
                Some(trigger.clone()),
            ));
        }
        let nothing_to_do = plan.steps.is_empty()
            && timers.is_empty()
            && targets.is_none()
            && !by_job
            && plan.notes.is_empty()
            && plan.mails.is_empty()
            && plan.notices.is_empty()
            && plan.cc_ids.is_empty()
            && plan.follower_ids.is_empty()
            && deliveries.is_empty();
        if nothing_to_do {
            return Ok(RuleWrite::Written);
        }
        let payloads: Vec<(i64, String, String, String)> = deliveries
            .into_iter()
            .map(|(webhook_id, event_key, trigger)| {
                let payload = serde_json::json!({
                    "event": event_key,
                    "ticket": ticket_json,
                    "actor": {"kind": scene.actor.key(), "id": event.actor_id},
                    "channel": event.channel,
                    "message": event.message_id.map(|id| serde_json::json!({"id": id, "text": scene.message})),
                    "changes": event.changes.iter().map(|(field, before, after)| serde_json::json!({"field": field, "before": before, "after": after})).collect::<Vec<_>>(),
                    "trigger": trigger,
                    "occurred_at": self.now().rfc3339(),
                });
                Ok((webhook_id, event_key, payload.to_string(), crate::secrets::random_token()?))
            })
            .collect::<AppResult<_>>()?;
        let new_deliveries: Vec<NewDelivery<'_>> = payloads
            .iter()
            .map(|(webhook_id, event_key, payload, key)| NewDelivery {
                webhook_id: *webhook_id,
                delivery_key: key,
                event: event_key,
                payload,
            })
            .collect();
        let labels_changed = model.labels != before.labels;
        let properties = TicketProperties {
            status: model.status,
            urgency: model.urgency,
            department_id: model.department_id,
            agent_id: model.agent_id,
            team_id: model.team_id,
            priority_id: model.priority_id,
            labels: labels_changed.then_some(&model.labels),
        };
        let field_values: Vec<(i64, Option<String>)> = model
            .fields
            .iter()
            .filter(|(id, value)| before.fields.get(id) != Some(value))
            .map(|(id, value)| (*id, Some(value.clone()).filter(|value| !value.is_empty())))
            .chain(
                before
                    .fields
                    .keys()
                    .filter(|id| !model.fields.contains_key(id))
                    .map(|id| (*id, None)),
            )
            .collect();
        let labels: Vec<String> = plan
            .steps
            .iter()
            .map(|(name, _)| format!("rule {name}"))
            .collect();
        let logs: Vec<Vec<NewLogEntry<'_>>> = plan
            .steps
            .iter()
            .map(|(_, lines)| {
                lines
                    .iter()
                    .map(|(field, before, after)| NewLogEntry {
                        field,
                        before: before.clone(),
                        after: after.clone(),
                    })
                    .collect()
            })
            .collect();
        let steps: Vec<RuleStep<'_>> = labels
            .iter()
            .zip(&logs)
            .map(|(label, log)| RuleStep {
                actor_label: label,
                log,
            })
            .collect();
        let notes: Vec<NewMessage<'_>> = plan
            .notes
            .iter()
            .map(|(markdown, html)| NewMessage {
                author_id: None,
                is_note: true,
                body_markdown: markdown,
                body_html: html,
                channel: "agent",
                ip: "",
                attachments: &[],
                inbound_mail: None,
            })
            .collect();
        let mails: Vec<_> = plan.mails.iter().map(ComposedMail::as_new).collect();
        let notices: Vec<AgentNotice<'_>> = plan
            .notices
            .iter()
            .map(|notice| crate::notifications::notice(notice.event(), event.actor_id))
            .collect();
        let outcome = RuleOutcome {
            ticket_id: scene.ticket.id,
            read_at: scene.ticket.updated_at,
            properties: changed.then_some(&properties),
            field_values: &field_values,
            steps: &steps,
            notes: &notes,
            mails: &mails,
            notices: &notices,
            message_id: event.message_id,
            cc_ids: &plan.cc_ids,
            follower_ids: &plan.follower_ids,
            deliveries: &new_deliveries,
            round_robin: &plan.round_robin,
            timers: &timers,
            targets: targets.as_ref().map(|(rows, due_at, warn_at)| {
                ferrodesk_store::TargetsWrite {
                    targets: rows,
                    due_at: *due_at,
                    warn_at: *warn_at,
                }
            }),
            breached,
            fired_timer,
            job_id,
            lease_owner: owner,
        };
        let written = self
            .store()
            .tickets()
            .apply_rule_outcome(&outcome, self.now())
            .await?;
        if written == RuleWrite::Written {
            self.wake_workers();
        }
        Ok(written)
    }

    /// The ticket, its people and the event's message; `None` when the
    /// ticket is gone, merged away or deleted.
    /// `with_calendars`: whether a condition of the rules that will run
    /// looks at business hours (the calendars are read only then).
    pub(crate) async fn rules_scene(
        &self,
        event: &RulesEvent,
        with_calendars: bool,
    ) -> AppResult<Option<Scene>> {
        let Some(ticket) = self.store().tickets().get_ticket(event.ticket_id).await? else {
            return Ok(None);
        };
        if ticket.merged_into_id.is_some() || ticket.status == TicketStatus::Deleted {
            return Ok(None);
        }
        let message = match event.message_id {
            Some(id) => self
                .store()
                .tickets()
                .message_text(ticket.id, id)
                .await?
                .map(|(text, _, _)| text)
                .unwrap_or_default(),
            None => String::new(),
        };
        // The channel tells who acted when it can: an agent opening a
        // ticket for a user writes the user's words, but the agent acted.
        let actor = match event.actor_id {
            _ if event.channel == "api" => ActorKind::Api,
            Some(_) if event.channel == "agent" => ActorKind::Agent,
            None => ActorKind::Rule,
            Some(id) if id == ticket.requester_id => ActorKind::User,
            Some(id) => match self.store().people().get_person(id).await? {
                Some(person) if person.is_agent => ActorKind::Agent,
                _ => ActorKind::User,
            },
        };
        let mut scene = self
            .scene_of(ticket, message, actor, with_calendars)
            .await?;
        scene.automatic = event.automatic;
        Ok(Some(scene))
    }

    /// The scene of a ticket as it is now.
    pub(crate) async fn scene_of(
        &self,
        ticket: TicketRecord,
        message: String,
        actor: ActorKind,
        with_calendars: bool,
    ) -> AppResult<Scene> {
        let state = self.state_of(ticket).await?;
        let fields: HashMap<i64, String> = state
            .fields
            .iter()
            .filter_map(|view| view.value.clone().map(|value| (view.field.id, value)))
            .collect();
        let field_names = state
            .fields
            .iter()
            .map(|view| (view.field.id, view.field.name.clone()))
            .collect();
        let priority_names = self
            .store()
            .ticket_fields()
            .list_ticket_priorities()
            .await?
            .into_iter()
            .map(|priority| (priority.id, priority.name))
            .collect();
        let calendars = if with_calendars {
            self.rule_calendars().await?
        } else {
            HashMap::new()
        };
        let ticket = state.ticket;
        let status_since = self
            .store()
            .escalations()
            .ticket_clock(ticket.id)
            .await?
            .map_or(ticket.updated_at, |clock| clock.status_since);
        let model = TicketModel {
            status: ticket.status,
            urgency: ticket.urgency,
            priority_id: ticket.priority_id,
            department_id: ticket.department_id,
            team_id: ticket.team_id,
            agent_id: ticket.agent_id,
            labels: state.labels,
            subject: ticket.subject.clone(),
            fields,
        };
        Ok(Scene {
            requester_email: ticket.requester_email.clone(),
            requester_name: ticket.requester_name.clone(),
            ticket,
            model,
            message,
            actor,
            priority_names,
            field_names,
            calendars,
            status_since,
            automatic: false,
        })
    }

    /// The calendars trigger criteria may name, by id.
    pub(crate) async fn rule_calendars(
        &self,
    ) -> AppResult<HashMap<i64, ferrodesk_core::BusinessCalendar>> {
        let mut calendars = HashMap::new();
        for record in self.store().business_calendars().list_calendars().await? {
            if let Some(calendar) = self.working_calendar(record.id).await? {
                calendars.insert(record.id, calendar);
            }
        }
        Ok(calendars)
    }

    /// Runs the triggers for an event and the rounds of "ticket updated"
    /// their changes set off; answers what they do and the ticket after.
    pub(crate) async fn run_chain(
        &self,
        set: &TriggerSet,
        event: &RulesEvent,
        scene: &Scene,
    ) -> AppResult<(Plan, TicketModel)> {
        let mut plan = Plan::default();
        let mut model = scene.model.clone();
        let mut fired: HashSet<i64> = HashSet::new();
        let mut round_event = event.trigger_event();
        let mut round_actor = scene.actor;
        let mut changes: Vec<Change> = event
            .changes
            .iter()
            .map(|(field, before, after)| Change {
                field: field.clone(),
                before: before.clone(),
                after: after.clone(),
            })
            .collect();
        let mut message = scene.message.as_str();
        for round in 0..=MAX_CHAIN_ROUNDS {
            let round_start = model.clone();
            let mut stopped = false;
            for trigger in &set.triggers {
                if fired.contains(&trigger.id) {
                    continue;
                }
                let facts = Facts {
                    event: round_event,
                    actor: round_actor,
                    channel: &event.channel,
                    ticket: &model,
                    requester_email: &scene.requester_email,
                    requester_name: &scene.requester_name,
                    organization_id: scene.ticket.organization_id,
                    message,
                    changes: &changes,
                    priority_names: &scene.priority_names,
                    field_names: &scene.field_names,
                    calendars: &scene.calendars,
                    now: self.now(),
                };
                if !fires(&facts, &trigger.definition, &trigger.all, &trigger.any) {
                    continue;
                }
                if round == MAX_CHAIN_ROUNDS {
                    tracing::warn!(
                        ticket_id = scene.ticket.id,
                        trigger = %trigger.name,
                        "rules changed the ticket {MAX_CHAIN_ROUNDS} rounds in a row; the chain stops here"
                    );
                    plan.problems.push(format!(
                        "The chain of rules stopped after {MAX_CHAIN_ROUNDS} rounds; \"{}\" did not run.",
                        trigger.name
                    ));
                    stopped = true;
                    break;
                }
                fired.insert(trigger.id);
                let step_start = model.clone();
                let stop = self
                    .apply_actions(trigger, scene, &mut model, &mut plan)
                    .await?;
                plan.fired.push(trigger.name.clone());
                let lines = log_lines(
                    &step_start,
                    &model,
                    &scene.priority_names,
                    &scene.field_names,
                );
                plan.steps.push((trigger.name.clone(), lines));
                if stop {
                    stopped = true;
                    break;
                }
            }
            if stopped || model == round_start {
                break;
            }
            // The rules' own changes are one "ticket updated" by a rule.
            changes = log_lines(
                &round_start,
                &model,
                &scene.priority_names,
                &scene.field_names,
            )
            .into_iter()
            .map(|(field, before, after)| Change {
                field: field.to_owned(),
                before,
                after,
            })
            .collect();
            round_event = TriggerEvent::TicketUpdated;
            round_actor = ActorKind::Rule;
            message = "";
        }
        // A trigger's step without log lines (it only mailed, say) still
        // names the rule in the log.
        for (name, lines) in &mut plan.steps {
            if lines.is_empty() {
                lines.push(("rule", None, Some(name.clone())));
            }
        }
        Ok((plan, model))
    }

    /// A time-based rule (an escalation, a missed SLA target) on a ticket:
    /// its actions under `name` in the log, then the triggers answering
    /// its changes as "ticket updated" by a rule (unless it stops them).
    pub(crate) async fn run_timed_rule(
        &self,
        rule: &ActiveTrigger,
        name: String,
        scene: &Scene,
        event: &RulesEvent,
    ) -> AppResult<(Plan, TicketModel)> {
        let mut plan = Plan::default();
        let mut model = scene.model.clone();
        let stop = self
            .apply_actions(rule, scene, &mut model, &mut plan)
            .await?;
        let lines = log_lines(
            &scene.model,
            &model,
            &scene.priority_names,
            &scene.field_names,
        );
        plan.fired.push(name.clone());
        plan.steps.push((name, lines));
        if stop || model == scene.model {
            return Ok((plan, model));
        }
        let changes = log_lines(
            &scene.model,
            &model,
            &scene.priority_names,
            &scene.field_names,
        )
        .into_iter()
        .map(|(field, before, after)| (field.to_owned(), before, after))
        .collect();
        let follow_up = RulesEvent {
            ticket_id: event.ticket_id,
            event: event.event.clone(),
            actor_id: None,
            channel: event.channel.clone(),
            message_id: None,
            changes,
            automatic: event.automatic,
        };
        let after = Scene {
            model,
            ..scene.clone()
        };
        let triggers = self.active_triggers().await?;
        let (more, model) = self.run_chain(&triggers, &follow_up, &after).await?;
        plan.absorb(more);
        Ok((plan, model))
    }

    /// Does one trigger's actions; answers whether it stops the others.
    pub(crate) async fn apply_actions(
        &self,
        trigger: &ActiveTrigger,
        scene: &Scene,
        model: &mut TicketModel,
        plan: &mut Plan,
    ) -> AppResult<bool> {
        let mut stop = false;
        for action in &trigger.definition.actions {
            match action {
                RuleAction::SetStatus { status } => match TicketStatus::from_key(status) {
                    Some(status) => model.status = status,
                    None => plan.problems.push(format!("Unknown status {status}.")),
                },
                RuleAction::SetUrgency { urgency } => model.urgency = clamped_urgency(*urgency),
                RuleAction::AddUrgency { amount } => {
                    model.urgency = clamped_urgency(model.urgency.get().saturating_add(*amount));
                }
                RuleAction::SubtractUrgency { amount } => {
                    model.urgency = clamped_urgency(model.urgency.get().saturating_sub(*amount));
                }
                RuleAction::SetPriority { priority_id } => match priority_id {
                    Some(id) if !scene.priority_names.contains_key(id) => {
                        plan.problems.push("The priority no longer exists.".into());
                    }
                    _ => model.priority_id = *priority_id,
                },
                RuleAction::SetDepartment { department_id } => {
                    let directory = self.shared_directory().await?;
                    if directory.departments.iter().any(|d| d.id == *department_id) {
                        model.department_id = *department_id;
                    } else {
                        plan.problems
                            .push("The department no longer exists.".into());
                    }
                }
                RuleAction::SetTeam { team_id } => {
                    let directory = self.shared_directory().await?;
                    match team_id {
                        Some(id) if !directory.teams.iter().any(|team| team.id == *id) => {
                            plan.problems.push("The team no longer exists.".into());
                        }
                        _ => model.team_id = *team_id,
                    }
                }
                RuleAction::Assign { assignment } => {
                    self.assign_by_rule(trigger, *assignment, model, plan)
                        .await?;
                }
                RuleAction::AddLabels { labels } | RuleAction::RemoveLabels { labels } => {
                    let adding = matches!(action, RuleAction::AddLabels { .. });
                    let mut names = model.labels.to_strings();
                    if adding {
                        names.extend(labels.iter().cloned());
                    } else {
                        names.retain(|name| {
                            !labels.iter().any(|gone| gone.eq_ignore_ascii_case(name))
                        });
                    }
                    match Labels::parse(names.iter().map(String::as_str)) {
                        Ok(labels) => model.labels = labels,
                        Err(error) => plan.problems.push(error.to_string()),
                    }
                }
                RuleAction::SetField { field_id, value } => {
                    if scene.field_names.contains_key(field_id) {
                        if value.is_empty() {
                            model.fields.remove(field_id);
                        } else {
                            model.fields.insert(*field_id, value.clone());
                        }
                    } else {
                        plan.problems.push("The field no longer exists.".into());
                    }
                }
                RuleAction::AddCc { email } => match ferrodesk_core::Email::parse(email) {
                    Ok(address) if plan.dry_run => {
                        plan.previews.push(format!("copy in {}", address.as_str()));
                    }
                    Ok(address) => {
                        let name = address
                            .as_str()
                            .split('@')
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let person = self.person_for_address(&address, &name).await?;
                        if person.id != scene.ticket.requester_id && !person.is_agent {
                            plan.cc_ids.push(person.id);
                        }
                    }
                    Err(error) => plan.problems.push(error.to_string()),
                },
                RuleAction::Follow { agent_id } => {
                    match self.store().people().get_person(*agent_id).await? {
                        Some(agent) if agent.is_agent && !agent.is_disabled => {
                            if plan.dry_run {
                                plan.previews
                                    .push(format!("make {} follow the ticket", agent.name));
                            }
                            plan.follower_ids.push(agent.id);
                        }
                        _ => plan
                            .problems
                            .push("The agent to follow is not active.".into()),
                    }
                }
                RuleAction::Email {
                    to,
                    address,
                    subject,
                    body,
                } => {
                    let mails = self
                        .rule_mails(scene, model, *to, address, subject, body, plan)
                        .await?;
                    plan.mails.extend(mails);
                }
                RuleAction::AddNote { body } => {
                    match self.render_rule_text(scene, model, body).await {
                        Ok(text) if !text.trim().is_empty() => {
                            let html = crate::markdown::render_message(&text);
                            plan.notes.push((text, html));
                        }
                        Ok(_) => {}
                        Err(problem) => plan.problems.push(problem),
                    }
                }
                RuleAction::CallWebhook { webhook_id } => {
                    match self.store().webhooks().get_webhook(*webhook_id).await? {
                        Some(hook) if hook.is_enabled => {
                            plan.webhook_calls.push((hook.id, trigger.name.clone()));
                        }
                        _ => plan
                            .problems
                            .push("The webhook is gone or switched off.".into()),
                    }
                }
                RuleAction::SendReceipt => {
                    let receipt = self.rule_receipt(scene, plan).await?;
                    plan.mails.extend(receipt);
                }
                RuleAction::NotifyAgents { notice } => {
                    if !plan.notices.contains(notice) {
                        plan.notices.push(*notice);
                    }
                }
                RuleAction::Stop => stop = true,
            }
        }
        Ok(stop)
    }

    /// Picks an agent as the assignment says, among those who are active
    /// and may be given tickets of the ticket's department.
    async fn assign_by_rule(
        &self,
        trigger: &ActiveTrigger,
        assignment: Assignment,
        model: &mut TicketModel,
        plan: &mut Plan,
    ) -> AppResult<()> {
        let team_id = match assignment {
            Assignment::Nobody => {
                model.agent_id = None;
                return Ok(());
            }
            Assignment::Agent(agent_id) => {
                if self.may_be_assigned(agent_id, model.department_id).await? {
                    model.agent_id = Some(agent_id);
                } else {
                    plan.problems
                        .push("That agent cannot be given tickets of this department.".into());
                }
                return Ok(());
            }
            Assignment::RoundRobin(team_id) | Assignment::LeastOpen(team_id) => team_id,
        };
        let mut candidates = Vec::new();
        for member in self.store().departments().team_members(team_id).await? {
            if self.may_be_assigned(member.id, model.department_id).await? {
                candidates.push(member.id);
            }
        }
        candidates.sort_unstable();
        let Some(first) = candidates.first().copied() else {
            plan.problems
                .push("No member of the team can be given this ticket.".into());
            return Ok(());
        };
        // An escalation keeps no place in a rotation: it gives the ticket
        // to the least busy member instead.
        let chosen = match assignment {
            Assignment::RoundRobin(_) if trigger.id > 0 => {
                // Where the trigger left off, read now: the compiled copy
                // does not follow it.
                let stored = self
                    .store()
                    .triggers()
                    .get_trigger(trigger.id)
                    .await?
                    .and_then(|record| record.last_agent_id);
                let last = plan
                    .round_robin
                    .iter()
                    .rev()
                    .find(|(id, _, _)| *id == trigger.id)
                    .map(|(_, _, agent)| *agent)
                    .or(stored);
                let next = last.and_then(|last| candidates.iter().find(|id| **id > last).copied());
                let chosen = next.unwrap_or(first);
                plan.round_robin.retain(|(id, _, _)| *id != trigger.id);
                plan.round_robin.push((trigger.id, stored, chosen));
                chosen
            }
            _ => {
                let counts: HashMap<i64, i64> = self
                    .store()
                    .tickets()
                    .awaiting_counts(&candidates)
                    .await?
                    .into_iter()
                    .collect();
                candidates
                    .iter()
                    .copied()
                    .min_by_key(|id| (counts.get(id).copied().unwrap_or(0), *id))
                    .unwrap_or(first)
            }
        };
        model.team_id = Some(team_id);
        model.agent_id = Some(chosen);
        Ok(())
    }

    async fn may_be_assigned(&self, agent_id: i64, department_id: i64) -> AppResult<bool> {
        let active = self
            .store()
            .people()
            .get_person(agent_id)
            .await?
            .is_some_and(|person| person.is_agent && !person.is_disabled);
        Ok(active
            && self
                .effective_permissions(agent_id)
                .await?
                .department_access(department_id)
                .is_some())
    }

    /// What the placeholders of a rule's text can name.
    async fn rule_context(
        &self,
        scene: &Scene,
        model: &TicketModel,
    ) -> AppResult<serde_json::Value> {
        let ticket = &scene.ticket;
        let directory = self.shared_directory().await?;
        let agent = model
            .agent_id
            .and_then(|id| directory.agents.iter().find(|agent| agent.id == id));
        let department = directory
            .departments
            .iter()
            .find(|department| department.id == model.department_id)
            .map(|department| department.name.clone())
            .unwrap_or_default();
        let first_name = scene
            .requester_name
            .split_whitespace()
            .next()
            .unwrap_or_default();
        Ok(serde_json::json!({
            "ticket": {
                "reference": ticket.reference.as_str(),
                "subject": model.subject,
                "status": model.status.label(),
                "department": department,
                "urgency": model.urgency.get(),
                "priority": model.priority_id.and_then(|id| scene.priority_names.get(&id)).cloned().unwrap_or_default(),
                "labels": model.labels.to_strings(),
                "link": self.ticket_link(&ticket.reference, &self.ticket_access_code(ticket)),
                "agent_link": format!("{}/agent/tickets/{}", self.public_url(), ticket.reference),
                "message": scene.message,
            },
            "user": {
                "name": scene.requester_name,
                "first_name": first_name,
                "email": scene.requester_email,
            },
            "agent": {
                "name": agent.map(|agent| agent.name.clone()).unwrap_or_default(),
                "email": agent.map(|agent| agent.email.clone()).unwrap_or_default(),
            },
            "helpdesk": {"name": self.settings().await?.branding.product_name.clone()},
        }))
    }

    /// A rule's text with its placeholders filled in, in the sandbox.
    async fn render_rule_text(
        &self,
        scene: &Scene,
        model: &TicketModel,
        template: &str,
    ) -> Result<String, String> {
        let context = self
            .rule_context(scene, model)
            .await
            .map_err(|error| error.to_string())?;
        ferrodesk_mail::templates::render_text(template, &context)
            .map_err(|error| format!("A rule's template does not work: {error}"))
    }

    /// The mails of one "send an email" action. People outside the staff
    /// get at most the admin's number of automatic mails an hour, so two
    /// autoresponders cannot keep each other busy; agents only hear of a
    /// ticket they may see.
    #[allow(clippy::too_many_arguments)]
    async fn rule_mails(
        &self,
        scene: &Scene,
        model: &TicketModel,
        to: Recipients,
        address: &str,
        subject: &str,
        body: &str,
        plan: &mut Plan,
    ) -> AppResult<Vec<ComposedMail>> {
        let ticket = &scene.ticket;
        // (person id when known, name, address, is staff)
        let mut recipients: Vec<(Option<i64>, String, String, bool)> = Vec::new();
        let people = self.store().people();
        match to {
            Recipients::Requester => {
                if let Some(person) = people.get_person(ticket.requester_id).await?
                    && !person.is_disabled
                {
                    recipients.push((Some(person.id), person.name, person.email, person.is_agent));
                }
            }
            Recipients::Ccs => {
                for cc in self.store().tickets().ticket_ccs(ticket.id).await? {
                    recipients.push((Some(cc.id), cc.name, cc.email, false));
                }
            }
            Recipients::Agent => {
                if let Some(id) = model.agent_id {
                    recipients.extend(self.staff_recipient(id).await?);
                }
            }
            Recipients::Team => {
                if let Some(team_id) = model.team_id {
                    for member in self.store().departments().team_members(team_id).await? {
                        recipients.extend(self.staff_recipient(member.id).await?);
                    }
                }
            }
            Recipients::DepartmentAgents => {
                let agents = people.list_agents().await?;
                let effective = self.effective_permissions_of(&agents).await?;
                for agent in agents {
                    let full = effective
                        .get(&agent.id)
                        .and_then(|permissions| permissions.department_access(model.department_id))
                        == Some(ferrodesk_core::DepartmentAccess::Full);
                    if full && !agent.is_disabled {
                        recipients.push((Some(agent.id), agent.name, agent.email, true));
                    }
                }
            }
            Recipients::OrganizationManagers => {
                if let Some(organization_id) = ticket.organization_id {
                    for manager in people.organization_managers(organization_id).await? {
                        recipients.push((Some(manager.id), manager.name, manager.email, false));
                    }
                }
            }
            Recipients::Address => {
                recipients.push((None, String::new(), address.to_owned(), false));
            }
        }
        let subject = match self.render_rule_text(scene, model, subject).await {
            Ok(subject) => subject,
            Err(problem) => {
                plan.problems.push(problem);
                return Ok(Vec::new());
            }
        };
        let text = match self.render_rule_text(scene, model, body).await {
            Ok(text) => text,
            Err(problem) => {
                plan.problems.push(problem);
                return Ok(Vec::new());
            }
        };
        let html = crate::markdown::render_message(&text);
        let root = self.thread_root(ticket.id, &ticket.reference).await?;
        let mut mails = Vec::new();
        let mut seen = HashSet::new();
        for (person_id, name, address, is_staff) in recipients.into_iter().take(200) {
            if !seen.insert(address.to_lowercase()) {
                continue;
            }
            if is_staff {
                let Some(agent) = people.get_person(person_id.unwrap_or_default()).await? else {
                    continue;
                };
                // Whether they may see the ticket as the rules leave it.
                let mut after = ticket.clone();
                after.department_id = model.department_id;
                after.agent_id = model.agent_id;
                after.team_id = model.team_id;
                let context = self
                    .agent_context(&crate::sessions::actor_of_agent(&agent))
                    .await?;
                let following = self
                    .store()
                    .tickets()
                    .is_following(ticket.id, agent.id)
                    .await?;
                if !context.may_see(&after, following) {
                    continue;
                }
            } else if scene.automatic {
                plan.problems.push(format!(
                    "No mail to {address}: the message was an automatic mail."
                ));
                continue;
            } else if !plan.dry_run && !self.may_auto_reply(&address).await? {
                plan.problems.push(format!(
                    "No mail to {address}: it had its automatic mails for this hour."
                ));
                continue;
            }
            let mail = match self.rule_mail(&name, &address, &subject, &text, &html) {
                Ok(mail) => mail,
                Err(error) => {
                    plan.problems.push(error.to_string());
                    continue;
                }
            };
            let mail = match person_id {
                Some(person_id) => mail.in_thread(
                    self.thread_message_id(&ticket.reference, person_id),
                    &root,
                    None,
                ),
                None => mail,
            };
            mails.push(mail);
        }
        Ok(mails)
    }

    /// The receipt of the ticket for its requester, threaded under their
    /// first mail when the ticket came by mail; none for an automatic
    /// mail, a disabled requester, or one who had their automatic mails
    /// for the hour.
    async fn rule_receipt(
        &self,
        scene: &Scene,
        plan: &mut Plan,
    ) -> AppResult<Option<ComposedMail>> {
        let ticket = &scene.ticket;
        if scene.automatic {
            tracing::info!(ticket_id = ticket.id, "no receipt for an automatic mail");
            return Ok(None);
        }
        let Some(requester) = self
            .store()
            .people()
            .get_person(ticket.requester_id)
            .await?
            .filter(|person| !person.is_disabled)
        else {
            return Ok(None);
        };
        if !plan.dry_run && !self.may_auto_reply(&requester.email).await? {
            plan.problems.push(format!(
                "No receipt to {}: it had its automatic mails for this hour.",
                requester.email
            ));
            return Ok(None);
        }
        let theirs = self
            .store()
            .inbound_mail()
            .first_message_id_of_ticket(ticket.id)
            .await?
            .filter(|id| crate::inbound::is_plain_message_id(id))
            .map(|id| format!("<{id}>"));
        Ok(Some(
            self.receipt_for(
                &requester,
                &ticket.reference,
                &ticket.subject,
                theirs.as_deref(),
            )
            .await?,
        ))
    }

    async fn staff_recipient(
        &self,
        agent_id: i64,
    ) -> AppResult<Option<(Option<i64>, String, String, bool)>> {
        Ok(self
            .store()
            .people()
            .get_person(agent_id)
            .await?
            .filter(|person| person.is_agent && !person.is_disabled)
            .map(|person| (Some(person.id), person.name, person.email, true)))
    }

    /// The ticket as webhooks get it: the shape of the API's ticket.
    async fn webhook_ticket(
        &self,
        scene: &Scene,
        model: &TicketModel,
    ) -> AppResult<serde_json::Value> {
        let directory = self.shared_directory().await?;
        let named = |id: Option<i64>, name: Option<String>| {
            id.map(|id| serde_json::json!({"id": id, "name": name.unwrap_or_default()}))
        };
        let ticket = &scene.ticket;
        let department = directory
            .departments
            .iter()
            .find(|department| department.id == model.department_id)
            .map(|department| department.name.clone())
            .unwrap_or_default();
        let agent = model.agent_id.and_then(|id| {
            directory
                .agents
                .iter()
                .find(|agent| agent.id == id)
                .map(|agent| agent.name.clone())
        });
        let team = model.team_id.and_then(|id| {
            directory
                .teams
                .iter()
                .find(|team| team.id == id)
                .map(|team| team.name.clone())
        });
        let priority = model
            .priority_id
            .and_then(|id| scene.priority_names.get(&id).cloned());
        Ok(serde_json::json!({
            "id": ticket.id,
            "reference": ticket.reference.as_str(),
            "subject": model.subject,
            "status": model.status.key(),
            "urgency": model.urgency.get(),
            "department": {"id": model.department_id, "name": department},
            "person": {"id": ticket.requester_id, "name": scene.requester_name, "email": scene.requester_email},
            "organization_id": ticket.organization_id,
            "agent": named(model.agent_id, agent),
            "team": named(model.team_id, team),
            "priority": named(model.priority_id, priority),
            "labels": model.labels.to_strings(),
            "fields": model.fields.iter().map(|(id, value)| serde_json::json!({
                "field": id,
                "name": scene.field_names.get(id).cloned().unwrap_or_default(),
                "values": value.lines().collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "created_at": ferrodesk_core::Timestamp(ticket.created_at).rfc3339(),
            "updated_at": self.now().rfc3339(),
        }))
    }

    /// The enabled webhooks that take an event.
    async fn webhooks_for(&self, event: &str) -> AppResult<Vec<ferrodesk_store::WebhookRecord>> {
        Ok(self
            .store()
            .webhooks()
            .list_webhooks()
            .await?
            .into_iter()
            .filter(|hook| hook.is_enabled && hook.events.split(',').any(|key| key == event))
            .collect())
    }

    /// The triggers that run, compiled; read again when any changed.
    pub(crate) async fn active_triggers(&self) -> AppResult<Arc<TriggerSet>> {
        let fingerprint = self.store().triggers().triggers_fingerprint().await?;
        if let Some(kept) = self.inner.triggers.current(fingerprint) {
            return Ok(kept);
        }
        let records = self.store().triggers().list_triggers().await?;
        let set = Arc::new(TriggerSet::compile(records));
        self.inner.triggers.keep(fingerprint, Arc::clone(&set));
        Ok(set)
    }
}

/// Urgency kept within its range.
fn clamped_urgency(value: i64) -> Urgency {
    Urgency::new(value.clamp(1, 10)).unwrap_or_default()
}

/// The log lines between two states of the ticket, as the ticket log
/// writes changes (status keys, urgency numbers, ids, priority names,
/// labels joined, fields as "name: value").
pub(crate) fn log_lines(
    before: &TicketModel,
    after: &TicketModel,
    priority_names: &HashMap<i64, String>,
    field_names: &HashMap<i64, String>,
) -> Vec<LogLine> {
    let mut lines = Vec::new();
    let mut note = |field: &'static str, old: Option<String>, new: Option<String>| {
        if old != new {
            lines.push((field, old, new));
        }
    };
    let id_text = |id: Option<i64>| id.map(|id| id.to_string());
    let priority = |id: Option<i64>| id.and_then(|id| priority_names.get(&id).cloned());
    note(
        "status",
        Some(before.status.key().to_owned()),
        Some(after.status.key().to_owned()),
    );
    note(
        "urgency",
        Some(before.urgency.to_string()),
        Some(after.urgency.to_string()),
    );
    note(
        "department",
        Some(before.department_id.to_string()),
        Some(after.department_id.to_string()),
    );
    note("agent", id_text(before.agent_id), id_text(after.agent_id));
    note("team", id_text(before.team_id), id_text(after.team_id));
    note(
        "priority",
        priority(before.priority_id),
        priority(after.priority_id),
    );
    note(
        "labels",
        Some(before.labels.joined()),
        Some(after.labels.joined()),
    );
    let mut field_ids: Vec<i64> = before
        .fields
        .keys()
        .chain(after.fields.keys())
        .copied()
        .collect();
    field_ids.sort_unstable();
    field_ids.dedup();
    for id in field_ids {
        let old = before.fields.get(&id);
        let new = after.fields.get(&id);
        if old != new {
            let name = field_names.get(&id).cloned().unwrap_or_default();
            lines.push((
                "field",
                Some(format!("{name}: {}", old.cloned().unwrap_or_default())),
                Some(format!("{name}: {}", new.cloned().unwrap_or_default())),
            ));
        }
    }
    lines
}
