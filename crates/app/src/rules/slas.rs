//! SLAs: first response, next response (after each user message) and
//! resolution targets, each with a warning, measured in a business-hours
//! calendar's working time (or wall time), applied to a ticket by
//! criteria: the first SLA in the admins' order whose criteria hold.
//!
//! A ticket's targets are rows of `ticket_slas`, brought up to date by the
//! rules job of every write (in its outcome transaction): a target starts
//! running, pauses while the ticket waits on the user (awaiting user,
//! pending) keeping the working time it had left, resumes when the user
//! answers, and is met by the agent's reply or the resolution. The
//! earliest running due time and warning are kept on the ticket row for
//! the list's "SLA due" column, order and `sla:` filters. The scheduler
//! marks running targets that are due as breaching and queues a job that
//! marks them failed and runs the SLA's actions (any trigger action), once.

use std::sync::Arc;

use ferrodesk_core::{BusinessCalendar, TicketStatus, Timestamp};
use ferrodesk_store::{ClaimedJob, NO_SLA_DUE, SlaRecord, TargetRecord};
use serde::{Deserialize, Serialize};

use super::ActiveTrigger;
use super::criteria::{CompiledCondition, Facts};
use super::definition::{ActorKind, Condition, RuleAction, TriggerDefinition, TriggerEvent};
use super::run::{Plan, RulesEvent, Scene};
use crate::jobs::{JobFailure, JobResult};
use crate::{App, AppResult};

/// The kinds of target, in the order they are shown.
pub const TARGETS: [(&str, &str); 3] = [
    ("first_response", "First response"),
    ("next_response", "Next response"),
    ("resolution", "Resolution"),
];

/// One target's length and when it warns, in minutes from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetTime {
    pub minutes: i64,
    pub warn_minutes: i64,
}

/// An SLA as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlaDefinition {
    /// Working time of this calendar; `None`: wall time.
    pub calendar_id: Option<i64>,
    pub first_response: Option<TargetTime>,
    pub next_response: Option<TargetTime>,
    pub resolution: Option<TargetTime>,
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    /// What a missed target does.
    pub actions: Vec<RuleAction>,
}

impl SlaDefinition {
    pub fn target(&self, kind: &str) -> Option<TargetTime> {
        match kind {
            "first_response" => self.first_response,
            "next_response" => self.next_response,
            "resolution" => self.resolution,
            _ => None,
        }
    }
}

/// An SLA ready to apply.
#[derive(Debug)]
pub(crate) struct ActiveSla {
    pub id: i64,
    pub name: String,
    pub definition: SlaDefinition,
    /// Criteria and breach actions in a trigger's shape (id negated).
    pub rule: ActiveTrigger,
}

/// The enabled SLAs in order.
#[derive(Debug, Default)]
pub(crate) struct SlaSet {
    pub slas: Vec<ActiveSla>,
}

impl ActiveSla {
    /// An SLA as a test runs it, enabled or not.
    pub(crate) fn for_test(record: &SlaRecord, definition: SlaDefinition) -> Option<ActiveSla> {
        let mut record = record.clone();
        record.definition = serde_json::to_string(&definition).ok()?;
        compile(&record)
    }
}

fn compile(record: &SlaRecord) -> Option<ActiveSla> {
    let definition: SlaDefinition = serde_json::from_str(&record.definition).ok()?;
    let rule = ActiveTrigger {
        id: -record.id,
        name: record.name.clone(),
        all: definition
            .all
            .iter()
            .cloned()
            .map(CompiledCondition::new)
            .collect(),
        any: definition
            .any
            .iter()
            .cloned()
            .map(CompiledCondition::new)
            .collect(),
        definition: TriggerDefinition {
            events: vec![
                TriggerEvent::NewTicket,
                TriggerEvent::NewReply,
                TriggerEvent::TicketUpdated,
            ],
            actors: Vec::new(),
            channels: Vec::new(),
            all: definition.all.clone(),
            any: definition.any.clone(),
            actions: definition.actions.clone(),
        },
    };
    Some(ActiveSla {
        id: record.id,
        name: record.name.clone(),
        definition,
        rule,
    })
}

/// Working time added to an instant, or wall time without a calendar;
/// `None` when the calendar has no hours.
fn later(calendar: Option<&BusinessCalendar>, from: i64, millis: i64) -> Option<i64> {
    match calendar {
        None => Some(from.saturating_add(millis)),
        Some(calendar) => calendar
            .add_working_time(Timestamp(from), millis.max(0))
            .map(Timestamp::millis),
    }
}

/// Working time between two instants (0 when `to` is before `from`).
fn between(calendar: Option<&BusinessCalendar>, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    match calendar {
        None => to - from,
        Some(calendar) => calendar.working_time_between(Timestamp(from), Timestamp(to)),
    }
}

/// What happened, as far as targets care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlaEvent {
    /// A message the requester sees, from the user.
    pub user_replied: bool,
    /// A message the requester sees, from an agent (or the API).
    pub agent_replied: bool,
}

/// A ticket's targets after an event, from the ones it had. `None` when
/// nothing changes.
pub(crate) fn targets_after(
    sla: Option<&ActiveSla>,
    calendar: Option<&BusinessCalendar>,
    ticket: &ferrodesk_store::TicketRecord,
    status: TicketStatus,
    event: SlaEvent,
    existing: &[TargetRecord],
    now: i64,
) -> Option<(Vec<TargetRecord>, i64, i64)> {
    let Some(sla) = sla else {
        return (!existing.is_empty()).then(|| (Vec::new(), NO_SLA_DUE, NO_SLA_DUE));
    };
    let waiting = matches!(status, TicketStatus::AwaitingUser | TicketStatus::Pending);
    let finished = matches!(
        status,
        TicketStatus::Resolved
            | TicketStatus::Archived
            | TicketStatus::Spam
            | TicketStatus::Deleted
    );
    let mut targets = Vec::new();
    for (kind, _) in TARGETS {
        let Some(time) = sla.definition.target(kind) else {
            continue;
        };
        // Another SLA's targets start over under this one.
        let kept = existing
            .iter()
            .find(|target| target.target == kind && target.sla_id == sla.id)
            .cloned();
        let start = |started_at: i64| -> Option<TargetRecord> {
            Some(TargetRecord {
                ticket_id: ticket.id,
                sla_id: sla.id,
                target: kind.to_owned(),
                started_at,
                warn_at: later(
                    calendar,
                    started_at,
                    time.warn_minutes.saturating_mul(60_000),
                )?,
                due_at: later(calendar, started_at, time.minutes.saturating_mul(60_000))?,
                state: "running".to_owned(),
                left_to_warn: None,
                left_to_due: None,
                met_at: None,
            })
        };
        let met_by = match kind {
            "first_response" => ticket.first_agent_reply_at,
            "resolution" => finished.then_some(now),
            _ => event.agent_replied.then_some(now),
        };
        let target = match (kind, kept) {
            // A kept target that is over stays as it is.
            (_, Some(target))
                if matches!(target.state.as_str(), "met" | "failed" | "breaching") =>
            {
                if target.state == "failed" && target.met_at.is_none() {
                    // A missed target still records when it was met.
                    let mut target = target;
                    target.met_at = met_by;
                    Some(target)
                } else if kind == "next_response" && event.user_replied && !waiting {
                    start(now)
                } else {
                    Some(target)
                }
            }
            (_, Some(mut target)) => {
                if let Some(at) = met_by {
                    target.state = "met".to_owned();
                    target.met_at = Some(at);
                    target.left_to_due = None;
                    target.left_to_warn = None;
                } else if waiting && target.state == "running" {
                    target.state = "paused".to_owned();
                    target.left_to_due = Some(between(calendar, now, target.due_at));
                    target.left_to_warn = Some(between(calendar, now, target.warn_at));
                } else if !waiting && target.state == "paused" {
                    target.state = "running".to_owned();
                    target.due_at = later(calendar, now, target.left_to_due.unwrap_or(0))?;
                    target.warn_at = later(calendar, now, target.left_to_warn.unwrap_or(0))?;
                    target.left_to_due = None;
                    target.left_to_warn = None;
                }
                Some(target)
            }
            ("next_response", None) => {
                if event.user_replied && !waiting && !finished {
                    start(now)
                } else {
                    None
                }
            }
            (_, None) => {
                if let Some(at) = met_by {
                    start(ticket.created_at).map(|mut target| {
                        target.state =
                            if at <= target.due_at { "met" } else { "failed" }.to_owned();
                        target.met_at = Some(at);
                        target
                    })
                } else {
                    start(ticket.created_at).map(|mut target| {
                        if waiting {
                            target.state = "paused".to_owned();
                            target.left_to_due = Some(between(calendar, now, target.due_at));
                            target.left_to_warn = Some(between(calendar, now, target.warn_at));
                        }
                        target
                    })
                }
            }
        };
        targets.extend(target);
    }
    // The list counts running targets and missed ones not met yet (a
    // missed first response stays "late" until an agent answers).
    let counted = targets.iter().filter(|target| {
        matches!(target.state.as_str(), "running" | "breaching")
            || (target.state == "failed" && target.met_at.is_none())
    });
    let due = counted
        .clone()
        .map(|target| target.due_at)
        .min()
        .unwrap_or(NO_SLA_DUE);
    let warn = counted
        .map(|target| target.warn_at)
        .min()
        .unwrap_or(NO_SLA_DUE);
    let mut sorted_existing = existing.to_vec();
    sorted_existing.sort_by(|a, b| a.target.cmp(&b.target));
    let mut sorted_new = targets.clone();
    sorted_new.sort_by(|a, b| a.target.cmp(&b.target));
    let unchanged =
        sorted_existing == sorted_new && ticket.sla_due_at == due && ticket.sla_warn_at == warn;
    (!unchanged).then_some((targets, due, warn))
}

#[derive(Debug, Deserialize)]
struct BackfillJob {
    after_id: i64,
}

/// Open tickets one backfill job works through before it queues its
/// sequel.
const BACKFILL_TICKETS: usize = 2_000;

#[derive(Debug, Deserialize)]
struct BreachJob {
    ticket_id: i64,
    target: String,
    due_at: i64,
}

impl App {
    /// The enabled SLAs, compiled; read again when any changed.
    pub(crate) async fn active_slas(&self) -> AppResult<Arc<SlaSet>> {
        let fingerprint = self.store().slas().slas_fingerprint().await?;
        if let Some(kept) = self.inner.slas.current(fingerprint) {
            return Ok(kept);
        }
        let records = self.store().slas().list_slas().await?;
        let set = Arc::new(SlaSet {
            slas: records
                .iter()
                .filter(|record| record.is_enabled)
                .filter_map(compile)
                .collect(),
        });
        self.inner.slas.keep(fingerprint, Arc::clone(&set));
        Ok(set)
    }

    /// The ticket's targets after a write that leaves it as `model` says;
    /// `None` when they stay as they are.
    pub(crate) async fn sla_targets_for(
        &self,
        scene: &Scene,
        model: &super::criteria::TicketModel,
        event: &RulesEvent,
        breached: Option<(&str, i64)>,
    ) -> AppResult<Option<(Vec<TargetRecord>, i64, i64)>> {
        let set = self.active_slas().await?;
        let mut existing = if set.slas.is_empty() && scene.ticket.sla_due_at == NO_SLA_DUE {
            Vec::new()
        } else {
            self.store().slas().ticket_targets(scene.ticket.id).await?
        };
        // A breach job's target is failed once its outcome is written.
        if let Some((kind, due_at)) = breached {
            for target in &mut existing {
                if target.target == kind && target.due_at == due_at && target.state == "breaching" {
                    target.state = "failed".to_owned();
                }
            }
        }
        if set.slas.is_empty() && existing.is_empty() {
            return Ok(None);
        }
        let facts = Facts {
            event: event.trigger_event(),
            actor: scene.actor,
            channel: &event.channel,
            ticket: model,
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
        // An agent's choice comes first; a choice of an SLA switched off
        // since falls back to the criteria.
        let chosen = match set.slas.is_empty() {
            true => None,
            false => self.store().tickets().chosen_sla(scene.ticket.id).await?,
        };
        let sla = chosen
            .and_then(|id| set.slas.iter().find(|sla| sla.id == id))
            .or_else(|| {
                set.slas.iter().find(|sla| {
                    sla.rule.all.iter().all(|condition| facts.check(condition))
                        && (sla.rule.any.is_empty()
                            || sla.rule.any.iter().any(|condition| facts.check(condition)))
                })
            });
        let calendar = match sla.and_then(|sla| sla.definition.calendar_id) {
            Some(id) => self.working_calendar(id).await?,
            None => None,
        };
        let replied = event.event == "replied";
        let sla_event = SlaEvent {
            user_replied: replied && scene.actor == ActorKind::User,
            agent_replied: replied && matches!(scene.actor, ActorKind::Agent | ActorKind::Api),
        };
        Ok(targets_after(
            sla,
            calendar.as_ref(),
            &scene.ticket,
            model.status,
            sla_event,
            &existing,
            self.now().millis(),
        ))
    }

    /// The backfill job: the SLAs applied to the open tickets after one
    /// was added or changed, a batch at a time, as a write to each would
    /// (nothing else runs: no trigger, no mail).
    pub(crate) async fn sla_backfill_job(&self, job: &ClaimedJob) -> JobResult {
        let backfill: BackfillJob = serde_json::from_str(&job.payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {}", job.payload)))?;
        let started = std::time::Instant::now();
        let with_calendars = self
            .active_slas()
            .await?
            .slas
            .iter()
            .any(|sla| sla.rule.uses_business_hours());
        let mut after_id = backfill.after_id;
        let mut done = 0;
        loop {
            let ids = self
                .store()
                .slas()
                .open_ticket_ids_after(after_id, 200)
                .await?;
            let Some(last) = ids.last().copied() else {
                return Ok(());
            };
            after_id = last;
            for ticket_id in &ids {
                let event = RulesEvent {
                    ticket_id: *ticket_id,
                    event: "changed".to_owned(),
                    actor_id: None,
                    channel: "rule".to_owned(),
                    message_id: None,
                    changes: Vec::new(),
                    automatic: false,
                };
                let Some(scene) = self.rules_scene(&event, with_calendars).await? else {
                    continue;
                };
                if let Some((rows, due_at, warn_at)) = self
                    .sla_targets_for(&scene, &scene.model, &event, None)
                    .await?
                {
                    let write = ferrodesk_store::TargetsWrite {
                        targets: &rows,
                        due_at,
                        warn_at,
                    };
                    self.store()
                        .slas()
                        .set_ticket_targets(*ticket_id, &write)
                        .await?;
                }
            }
            done += ids.len();
            if ids.len() < 200 {
                return Ok(());
            }
            if done >= BACKFILL_TICKETS || started.elapsed() > std::time::Duration::from_secs(30) {
                self.enqueue_job(
                    ferrodesk_store::SLA_BACKFILL_JOB_KIND,
                    &serde_json::json!({"after_id": after_id}),
                    5,
                )
                .await?;
                return Ok(());
            }
        }
    }

    /// The breach job: the target is marked failed and the SLA's actions
    /// run (with the triggers answering their changes), once.
    pub(crate) async fn sla_breach_job(&self, job: &ClaimedJob, owner: &str) -> JobResult {
        let breach: BreachJob = serde_json::from_str(&job.payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {}", job.payload)))?;
        for _ in 0..3 {
            match self.run_breach(&breach, job.id, owner).await? {
                ferrodesk_store::RuleWrite::TicketChanged => continue,
                _ => return Ok(()),
            }
        }
        Err(JobFailure::Retry(
            "the ticket kept changing while its SLA breach ran".into(),
        ))
    }

    async fn run_breach(
        &self,
        breach: &BreachJob,
        job_id: i64,
        owner: &str,
    ) -> AppResult<ferrodesk_store::RuleWrite> {
        let event = RulesEvent {
            ticket_id: breach.ticket_id,
            event: "changed".to_owned(),
            actor_id: None,
            channel: "rule".to_owned(),
            message_id: None,
            changes: Vec::new(),
            automatic: false,
        };
        let target = self
            .store()
            .slas()
            .ticket_targets(breach.ticket_id)
            .await?
            .into_iter()
            .find(|target| target.target == breach.target);
        let set = self.active_slas().await?;
        let sla = target
            .as_ref()
            .and_then(|target| set.slas.iter().find(|sla| sla.id == target.sla_id));
        let with_calendars = sla.is_some_and(|sla| sla.rule.uses_business_hours())
            || self.active_triggers().await?.needs_calendars;
        let scene = self.rules_scene(&event, with_calendars).await?;
        let mark = super::run::JobMark {
            job_id,
            owner,
            fired_timer: None,
            breached: Some((breach.target.as_str(), breach.due_at)),
        };
        let Some(scene) = scene else {
            // A ticket gone or deleted: the target is simply marked.
            self.store()
                .slas()
                .finish_breach(
                    breach.ticket_id,
                    &breach.target,
                    breach.due_at,
                    job_id,
                    owner,
                )
                .await?;
            return Ok(ferrodesk_store::RuleWrite::Written);
        };
        let (plan, model) = match sla {
            Some(sla) => {
                let name = format!("{} (SLA missed)", sla.name);
                self.run_timed_rule(&sla.rule, name, &scene, &event).await?
            }
            None => (Plan::default(), scene.model.clone()),
        };
        self.write_plan(&scene, &event, plan, model, mark).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_adds_and_measures_plainly() {
        assert_eq!(later(None, 1_000, 500), Some(1_500));
        assert_eq!(between(None, 1_000, 1_500), 500);
        assert_eq!(between(None, 1_500, 1_000), 0);
    }
}
