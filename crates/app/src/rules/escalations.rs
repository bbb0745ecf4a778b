//! Escalations: time-based rules. Each watches a clock ("open for",
//! "awaiting agent for", "awaiting user for", "pending for", "resolved
//! for") of a length in wall time or in a business-hours calendar's
//! working time, with criteria and actions like a trigger's. This covers
//! auto-close ("awaiting user for 7 days → resolved, with a mail").
//!
//! Timing is kept in `escalation_timers`: the rules job of every ticket
//! write brings the ticket's timers up to date (a clock starts when the
//! ticket enters the state, so leaving it and coming back is a new
//! clock); adding or changing an escalation starts the timers of the
//! tickets already in its state in a backfill job. Each node's scheduler
//! turns due timers into jobs every tick (`WorkerConfig::scheduler_tick`),
//! reading only the due ones through an index; a timer is marked queued
//! in the transaction that queues its job and done in the transaction of
//! what the escalation did, so it fires once across nodes and restarts,
//! and timers that fell due while every node was down fire on the next
//! tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrodesk_core::{BusinessCalendar, TicketStatus, Timestamp};
use ferrodesk_store::{ClaimedJob, EscalationRecord, TicketClock, TimerChange, TimerRecord};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::ActiveTrigger;
use super::criteria::{CompiledCondition, Facts, fires};
use super::definition::{ActorKind, Condition, RuleAction, TriggerDefinition, TriggerEvent};
use super::run::RulesEvent;
use crate::jobs::{JobFailure, JobResult};
use crate::{App, AppResult};

/// Due timers one scheduler pass queues at most (the next pass, at once,
/// takes the rest).
pub const SCHEDULER_BATCH: i64 = 1_000;
/// Tickets a backfill job walks through before it queues its own sequel.
const BACKFILL_TICKETS: i64 = 5_000;

/// Which clock an escalation watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Since it was opened, while it is not resolved.
    Open,
    AwaitingAgent,
    AwaitingUser,
    Pending,
    Resolved,
}

impl Clock {
    pub const ALL: [Clock; 5] = [
        Clock::Open,
        Clock::AwaitingAgent,
        Clock::AwaitingUser,
        Clock::Pending,
        Clock::Resolved,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Clock::Open => "open",
            Clock::AwaitingAgent => "awaiting_agent",
            Clock::AwaitingUser => "awaiting_user",
            Clock::Pending => "pending",
            Clock::Resolved => "resolved",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Clock::Open => "Open for",
            Clock::AwaitingAgent => "Waiting on an agent for",
            Clock::AwaitingUser => "Waiting on the user for",
            Clock::Pending => "Pending for",
            Clock::Resolved => "Resolved for",
        }
    }

    pub fn from_key(key: &str) -> Option<Clock> {
        Clock::ALL.into_iter().find(|clock| clock.key() == key)
    }

    /// The statuses in which the clock runs.
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Clock::Open => &["awaiting_agent", "awaiting_user", "pending"],
            Clock::AwaitingAgent => &["awaiting_agent"],
            Clock::AwaitingUser => &["awaiting_user"],
            Clock::Pending => &["pending"],
            Clock::Resolved => &["resolved"],
        }
    }

    /// When the clock started for a ticket in `status`; `None` when it
    /// does not run.
    pub fn basis(self, status: &str, created_at: i64, status_since: i64) -> Option<i64> {
        if !self.statuses().contains(&status) {
            return None;
        }
        Some(if self == Clock::Open {
            created_at
        } else {
            status_since
        })
    }
}

/// An escalation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationDefinition {
    pub clock: Clock,
    pub minutes: i64,
    /// Counted in this calendar's working time; `None`: wall time.
    #[serde(default)]
    pub calendar_id: Option<i64>,
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
    pub actions: Vec<RuleAction>,
}

/// An escalation ready to run.
#[derive(Debug)]
pub(crate) struct ActiveEscalation {
    pub id: i64,
    pub name: String,
    pub definition: EscalationDefinition,
    /// The criteria and actions in a trigger's shape, so they run as a
    /// trigger's do (its id is the escalation's, negated).
    pub rule: ActiveTrigger,
}

impl ActiveEscalation {
    fn compile(record: &EscalationRecord) -> Option<ActiveEscalation> {
        let definition: EscalationDefinition = serde_json::from_str(&record.definition).ok()?;
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
                events: vec![TriggerEvent::TicketUpdated],
                actors: Vec::new(),
                channels: Vec::new(),
                all: definition.all.clone(),
                any: definition.any.clone(),
                actions: definition.actions.clone(),
            },
        };
        Some(ActiveEscalation {
            id: record.id,
            name: record.name.clone(),
            definition,
            rule,
        })
    }

    /// When the clock that started at `basis` runs out.
    pub fn due(&self, basis: i64, calendars: &HashMap<i64, BusinessCalendar>) -> Option<i64> {
        let length = self.definition.minutes.saturating_mul(60_000);
        match self.definition.calendar_id {
            None => Some(basis.saturating_add(length)),
            Some(id) => calendars
                .get(&id)?
                .add_working_time(Timestamp(basis), length)
                .map(Timestamp::millis),
        }
    }
}

/// The enabled escalations, compiled.
#[derive(Debug, Default)]
pub(crate) struct EscalationSet {
    pub escalations: Vec<ActiveEscalation>,
}

impl EscalationSet {
    pub fn uses_calendars(&self) -> bool {
        self.escalations
            .iter()
            .any(|escalation| escalation.definition.calendar_id.is_some())
    }

    /// What a ticket's timers should become, against what they are.
    pub fn timer_changes(
        &self,
        clock: &TicketClock,
        existing: &[TimerRecord],
        calendars: &HashMap<i64, BusinessCalendar>,
    ) -> Vec<TimerChange> {
        let mut changes = Vec::new();
        for escalation in &self.escalations {
            let stored = existing
                .iter()
                .find(|timer| timer.escalation_id == escalation.id);
            let wanted = escalation
                .definition
                .clock
                .basis(&clock.status, clock.created_at, clock.status_since)
                .and_then(|basis| escalation.due(basis, calendars).map(|due| (basis, due)));
            match (wanted, stored) {
                (Some((basis, due)), Some(timer))
                    if timer.basis_at == basis && timer.due_at == due => {}
                (Some((basis, _)), Some(timer))
                    if timer.basis_at == basis && timer.state != "waiting" => {}
                (Some((basis_at, due_at)), _) => changes.push(TimerChange::Run {
                    escalation_id: escalation.id,
                    basis_at,
                    due_at,
                }),
                (None, Some(_)) => changes.push(TimerChange::Stop {
                    escalation_id: escalation.id,
                }),
                (None, None) => {}
            }
        }
        changes
    }
}

#[derive(Debug, Deserialize)]
struct EscalationJob {
    escalation_id: i64,
    ticket_id: i64,
    basis_at: i64,
}

#[derive(Debug, Deserialize)]
struct BackfillJob {
    escalation_id: i64,
    after_id: i64,
}

impl App {
    /// The enabled escalations, compiled; read again when any changed.
    pub(crate) async fn active_escalations(&self) -> AppResult<Arc<EscalationSet>> {
        let fingerprint = self.store().escalations().escalations_fingerprint().await?;
        if let Some(kept) = self.inner.escalations.current(fingerprint) {
            return Ok(kept);
        }
        let records = self.store().escalations().list_escalations().await?;
        let set = Arc::new(EscalationSet {
            escalations: records
                .iter()
                .filter(|record| record.is_enabled)
                .filter_map(ActiveEscalation::compile)
                .collect(),
        });
        self.inner.escalations.keep(fingerprint, Arc::clone(&set));
        Ok(set)
    }

    /// Every `tick`, turns due timers into jobs, until stopped.
    pub(crate) async fn run_scheduler(&self, tick: Duration, mut stopped: watch::Receiver<bool>) {
        loop {
            if *stopped.borrow() {
                break;
            }
            match self.scheduler_pass().await {
                // A full batch: there may be more due at once.
                Ok(queued) if i64::try_from(queued).unwrap_or(0) >= SCHEDULER_BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the scheduler cannot queue due escalations"),
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// One scheduler pass: queues up to `SCHEDULER_BATCH` due timers as
    /// jobs; answers how many.
    pub async fn scheduler_pass(&self) -> AppResult<usize> {
        let started = std::time::Instant::now();
        let queued = self
            .store()
            .escalations()
            .queue_due_timers(self.now(), SCHEDULER_BATCH)
            .await?
            + self
                .store()
                .slas()
                .queue_due_breaches(self.now(), SCHEDULER_BATCH)
                .await?
            + self.queue_due_reports().await?;
        if queued > 0 {
            tracing::info!(
                queued,
                millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "due escalations queued"
            );
            self.wake_workers();
        }
        Ok(queued)
    }

    /// The job of one due timer: the escalation's criteria, then its
    /// actions and the triggers its changes set off, written with the
    /// timer marked done; nothing but the mark when the ticket moved on
    /// or the criteria do not hold.
    pub(crate) async fn escalation_job(&self, job: &ClaimedJob, owner: &str) -> JobResult {
        let due: EscalationJob = serde_json::from_str(&job.payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {}", job.payload)))?;
        for _ in 0..3 {
            match self.run_escalation(&due, job.id, owner).await? {
                ferrodesk_store::RuleWrite::TicketChanged => continue,
                _ => return Ok(()),
            }
        }
        Err(JobFailure::Retry(
            "the ticket kept changing while its escalation ran".into(),
        ))
    }

    async fn run_escalation(
        &self,
        due: &EscalationJob,
        job_id: i64,
        owner: &str,
    ) -> AppResult<ferrodesk_store::RuleWrite> {
        let finish = || async {
            self.store()
                .escalations()
                .finish_timer(
                    due.escalation_id,
                    due.ticket_id,
                    due.basis_at,
                    job_id,
                    owner,
                )
                .await
        };
        let set = self.active_escalations().await?;
        let escalation = set
            .escalations
            .iter()
            .find(|escalation| escalation.id == due.escalation_id);
        let clock = self
            .store()
            .escalations()
            .ticket_clock(due.ticket_id)
            .await?;
        let (Some(escalation), Some(clock)) = (escalation, clock) else {
            finish().await?;
            return Ok(ferrodesk_store::RuleWrite::Written);
        };
        // The ticket may have left the state since the timer was queued.
        let basis =
            escalation
                .definition
                .clock
                .basis(&clock.status, clock.created_at, clock.status_since);
        if basis != Some(due.basis_at) {
            finish().await?;
            return Ok(ferrodesk_store::RuleWrite::Written);
        }
        let event = RulesEvent {
            ticket_id: due.ticket_id,
            event: "changed".to_owned(),
            actor_id: None,
            channel: "rule".to_owned(),
            message_id: None,
            changes: Vec::new(),
            automatic: false,
        };
        let with_calendars =
            escalation.rule.uses_business_hours() || self.active_triggers().await?.needs_calendars;
        let Some(scene) = self.rules_scene(&event, with_calendars).await? else {
            finish().await?;
            return Ok(ferrodesk_store::RuleWrite::Written);
        };
        let facts = Facts {
            event: TriggerEvent::TicketUpdated,
            actor: ActorKind::Rule,
            channel: "rule",
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
        let rule = &escalation.rule;
        if !fires(&facts, &rule.definition, &rule.all, &rule.any) {
            finish().await?;
            return Ok(ferrodesk_store::RuleWrite::Written);
        }
        let (plan, model) = self
            .run_timed_rule(rule, escalation.name.clone(), &scene, &event)
            .await?;
        let mark = super::run::JobMark {
            job_id,
            owner,
            fired_timer: Some((due.escalation_id, due.basis_at)),
            breached: None,
        };
        self.write_plan(&scene, &event, plan, model, mark).await
    }

    /// The backfill job: starts the escalation's timers on the tickets
    /// already in its state, a batch at a time.
    pub(crate) async fn escalation_backfill_job(&self, job: &ClaimedJob) -> JobResult {
        let backfill: BackfillJob = serde_json::from_str(&job.payload)
            .map_err(|_| JobFailure::Permanent(format!("bad payload {}", job.payload)))?;
        let set = self.active_escalations().await?;
        let Some(escalation) = set
            .escalations
            .iter()
            .find(|escalation| escalation.id == backfill.escalation_id)
        else {
            return Ok(());
        };
        let calendars = if set.uses_calendars() {
            self.rule_calendars().await?
        } else {
            HashMap::new()
        };
        let statuses = escalation.definition.clock.statuses();
        let mut after_id = backfill.after_id;
        let started = std::time::Instant::now();
        loop {
            let tickets = self
                .store()
                .escalations()
                .ticket_clocks_after(statuses, after_id, 1_000)
                .await?;
            let Some(last) = tickets.last() else {
                return Ok(());
            };
            after_id = last.id;
            let timers: Vec<(i64, TimerChange)> = tickets
                .iter()
                .filter_map(|ticket| {
                    let basis = escalation.definition.clock.basis(
                        &ticket.status,
                        ticket.created_at,
                        ticket.status_since,
                    )?;
                    let due = escalation.due(basis, &calendars)?;
                    Some((
                        ticket.id,
                        TimerChange::Run {
                            escalation_id: escalation.id,
                            basis_at: basis,
                            due_at: due,
                        },
                    ))
                })
                .collect();
            self.store().escalations().set_timers(&timers).await?;
            if tickets.len() < 1_000 {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30)
                || after_id - backfill.after_id > BACKFILL_TICKETS * 100
            {
                // The rest in a job of its own, within the time limit.
                self.enqueue_job(
                    ferrodesk_store::ESCALATION_BACKFILL_JOB_KIND,
                    &serde_json::json!({"escalation_id": escalation.id, "after_id": after_id}),
                    5,
                )
                .await?;
                return Ok(());
            }
        }
    }

    /// What a ticket's timers should become after a write that leaves it
    /// in `status`, entered at `status_since`.
    pub(crate) async fn timer_changes_for(
        &self,
        ticket_id: i64,
        created_at: i64,
        status: TicketStatus,
        status_since: i64,
    ) -> AppResult<Vec<TimerChange>> {
        let set = self.active_escalations().await?;
        let existing = self.store().escalations().ticket_timers(ticket_id).await?;
        if set.escalations.is_empty() && existing.is_empty() {
            return Ok(Vec::new());
        }
        let calendars = if set.uses_calendars() {
            self.rule_calendars().await?
        } else {
            HashMap::new()
        };
        let clock = TicketClock {
            id: ticket_id,
            status: status.key().to_owned(),
            created_at,
            status_since,
        };
        let mut changes = set.timer_changes(&clock, &existing, &calendars);
        // Timers of escalations since switched off or deleted stop.
        for timer in &existing {
            if !set
                .escalations
                .iter()
                .any(|escalation| escalation.id == timer.escalation_id)
            {
                changes.push(TimerChange::Stop {
                    escalation_id: timer.escalation_id,
                });
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_runs_only_in_its_states_and_starts_when_they_began() {
        assert_eq!(Clock::AwaitingUser.basis("awaiting_user", 10, 50), Some(50));
        assert_eq!(Clock::AwaitingUser.basis("awaiting_agent", 10, 50), None);
        assert_eq!(Clock::Open.basis("pending", 10, 50), Some(10));
        assert_eq!(Clock::Open.basis("resolved", 10, 50), None);
        assert_eq!(Clock::Resolved.basis("resolved", 10, 50), Some(50));
    }
}
