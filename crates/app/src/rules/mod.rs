//! Business rules: triggers that run on ticket events (this module), the
//! business-hours calendars they and SLAs measure time in
//! (`crate::business_hours`) and the webhooks they call
//! (`crate::webhooks`).
//!
//! - `definition`: what a trigger is, as stored;
//! - `criteria`: whether its conditions hold for an event;
//! - `run`: the rules job that runs the triggers of one ticket event;
//! - `triggers`: the admins' use cases (the form, order, "test against a
//!   ticket").

pub mod criteria;
pub mod definition;
mod escalation_forms;
mod escalations;
mod run;
mod sla_forms;
mod slas;
mod triggers;

use std::sync::{Arc, Mutex, PoisonError};

use ferrodesk_store::TriggerRecord;

pub use criteria::Verdict;
pub use definition::{
    ActorKind, Assignment, CHANNELS, Condition, ConditionField, Operator, Recipients, RuleAction,
    TriggerDefinition, TriggerEvent,
};
pub use escalation_forms::{EscalationInput, EscalationSummary, EscalationView};
pub use escalations::{Clock, EscalationDefinition, SCHEDULER_BATCH};
pub use ferrodesk_store::NO_SLA_DUE;
pub use run::MAX_CHAIN_ROUNDS;

pub(crate) use escalations::EscalationSet;
pub use sla_forms::{SlaInput, SlaSummary, SlaTargetView, SlaTest, SlaView};
pub(crate) use slas::SlaSet;
pub use slas::{SlaDefinition, TARGETS, TargetTime};
pub use triggers::{
    ACTION_KINDS, ActionRow, CONDITION_FIELDS, ConditionRow, TriggerInput, TriggerSummary,
    TriggerTest, TriggerView,
};

use criteria::CompiledCondition;

/// A trigger ready to run.
#[derive(Debug)]
pub(crate) struct ActiveTrigger {
    pub id: i64,
    pub name: String,
    pub definition: TriggerDefinition,
    pub all: Vec<CompiledCondition>,
    pub any: Vec<CompiledCondition>,
}

impl ActiveTrigger {
    /// Whether a condition looks at a business-hours calendar (the scene
    /// then loads the calendars).
    pub fn uses_business_hours(&self) -> bool {
        self.definition
            .all
            .iter()
            .chain(&self.definition.any)
            .any(|condition| condition.field == ConditionField::BusinessHours)
    }

    /// A stored trigger compiled; `None` when its definition does not
    /// read (written by a newer version, say).
    pub fn compile(record: &TriggerRecord) -> Option<ActiveTrigger> {
        let definition: TriggerDefinition = serde_json::from_str(&record.definition).ok()?;
        Some(ActiveTrigger {
            id: record.id,
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
            definition,
        })
    }
}

/// The enabled triggers in the order they run.
#[derive(Debug)]
pub(crate) struct TriggerSet {
    pub triggers: Vec<ActiveTrigger>,
    /// Whether any criterion looks at business hours.
    pub needs_calendars: bool,
}

impl TriggerSet {
    fn compile(records: Vec<TriggerRecord>) -> TriggerSet {
        let triggers: Vec<ActiveTrigger> = records
            .iter()
            .filter(|record| record.is_enabled)
            .filter_map(|record| {
                let compiled = ActiveTrigger::compile(record);
                if compiled.is_none() {
                    tracing::warn!(
                        trigger = record.id,
                        "a trigger's definition does not read; it is skipped"
                    );
                }
                compiled
            })
            .collect();
        let needs_calendars = triggers.iter().any(ActiveTrigger::uses_business_hours);
        TriggerSet {
            triggers,
            needs_calendars,
        }
    }
}

/// A rules table's row count and sum of change times.
type Fingerprint = (i64, i64);

/// A node's compiled copy of stored rules (triggers, escalations or
/// SLAs), kept until the table's fingerprint (row count, sum of change times)
/// moves.
#[derive(Debug)]
pub(crate) struct RuleCache<T> {
    kept: Mutex<Option<(Fingerprint, Arc<T>)>>,
}

impl<T> Default for RuleCache<T> {
    fn default() -> Self {
        RuleCache {
            kept: Mutex::new(None),
        }
    }
}

impl<T> RuleCache<T> {
    pub(crate) fn current(&self, fingerprint: Fingerprint) -> Option<Arc<T>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(kept, _)| *kept == fingerprint)
            .map(|(_, set)| Arc::clone(set))
    }

    pub(crate) fn keep(&self, fingerprint: Fingerprint, set: Arc<T>) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some((fingerprint, set));
    }
}
