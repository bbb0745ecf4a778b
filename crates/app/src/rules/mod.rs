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

pub(crate) use escalations::EscalationCache;
pub use sla_forms::{SlaInput, SlaSummary, SlaTargetView, SlaTest, SlaView};
pub(crate) use slas::SlaCache;
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
    fingerprint: (i64, i64),
    pub triggers: Vec<ActiveTrigger>,
    /// Whether any criterion looks at business hours.
    pub needs_calendars: bool,
}

impl TriggerSet {
    fn compile(fingerprint: (i64, i64), records: Vec<TriggerRecord>) -> TriggerSet {
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
        let needs_calendars = triggers.iter().any(|trigger| {
            trigger
                .definition
                .all
                .iter()
                .chain(&trigger.definition.any)
                .any(|condition| condition.field == ConditionField::BusinessHours)
        });
        TriggerSet {
            fingerprint,
            triggers,
            needs_calendars,
        }
    }
}

/// This node's compiled triggers, kept until the stored ones change.
#[derive(Debug, Default)]
pub(crate) struct TriggerCache {
    kept: Mutex<Option<Arc<TriggerSet>>>,
}

impl TriggerCache {
    fn current(&self, fingerprint: (i64, i64)) -> Option<Arc<TriggerSet>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|set| set.fingerprint == fingerprint)
            .map(Arc::clone)
    }

    fn keep(&self, set: Arc<TriggerSet>) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(set);
    }
}
