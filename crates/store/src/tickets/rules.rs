//! What the triggers of one ticket event did, written in one transaction:
//! the ticket's properties and field values, a log line for each change
//! under the name of the rule that made it, notes, mail, copied users,
//! followers and webhook deliveries, with the rules job itself removed in
//! the same transaction, so an event's rules take effect exactly once.

use ferrodesk_core::Timestamp;

use super::write::{AgentNotice, NewLogEntry, NewMessage, TicketActor, TicketProperties};
use crate::backend::{BeginWrite, on_connection};
use crate::{NewMail, StoreResult, on_backend};

/// The lines one rule adds to the ticket log.
#[derive(Debug, Clone)]
pub struct RuleStep<'a> {
    /// "rule <name>".
    pub actor_label: &'a str,
    pub log: &'a [NewLogEntry<'a>],
}

/// A webhook delivery a rule queues.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub webhook_id: i64,
    pub delivery_key: &'a str,
    pub event: &'a str,
    pub payload: &'a str,
}

/// The kind of job that makes a webhook delivery.
pub const WEBHOOK_DELIVERY_JOB_KIND: &str = "webhook_delivery";
/// How many times a delivery is tried.
pub const WEBHOOK_DELIVERY_ATTEMPTS: i64 = 8;

/// Everything the rules of one event do to a ticket.
#[derive(Debug, Clone)]
pub struct RuleOutcome<'a> {
    pub ticket_id: i64,
    /// The ticket's `updated_at` when the rules read it: if another write
    /// came since, nothing is written and the rules run again.
    pub read_at: i64,
    /// The properties after the rules; `None` when none changed.
    pub properties: Option<&'a TicketProperties<'a>>,
    pub field_values: &'a [(i64, Option<String>)],
    pub steps: &'a [RuleStep<'a>],
    pub notes: &'a [NewMessage<'a>],
    pub mails: &'a [NewMail<'a>],
    /// Agents to tell, as the rules asked (the event's message quoted).
    pub notices: &'a [AgentNotice<'a>],
    /// The event's message, which the notices concern.
    pub message_id: Option<i64>,
    pub cc_ids: &'a [i64],
    pub follower_ids: &'a [i64],
    pub deliveries: &'a [NewDelivery<'a>],
    /// Where each round-robin trigger left off: (trigger, the agent it
    /// had picked last when the rules read it, the agent it picks now).
    /// Another event's rules moving it on meanwhile means reading again.
    pub round_robin: &'a [(i64, Option<i64>, i64)],
    /// The ticket's escalation timers after the rules.
    pub timers: &'a [crate::TimerChange],
    /// The escalation timer whose job this is: (escalation, basis), marked
    /// done in the same transaction.
    pub fired_timer: Option<(i64, i64)>,
    /// The ticket's SLA targets as they are to be, when they change.
    pub targets: Option<crate::TargetsWrite<'a>>,
    /// The missed target whose breach job this is: (target, due time),
    /// marked failed in the same transaction.
    pub breached: Option<(&'a str, i64)>,
    /// The rules job: its id and the lease owner running it.
    pub job_id: i64,
    pub lease_owner: &'a str,
}

/// Whether the outcome was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleWrite {
    Written,
    /// The ticket changed since the rules read it: read and run again.
    TicketChanged,
    /// The job's lease was lost (another node runs it now): nothing done.
    LeaseLost,
}

impl super::Tickets<'_> {
    /// Writes what the rules of one event did, and removes their job.
    pub async fn apply_rule_outcome(
        &self,
        outcome: &RuleOutcome<'_>,
        now: Timestamp,
    ) -> StoreResult<RuleWrite> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let removed = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
                .bind(outcome.job_id)
                .bind(outcome.lease_owner)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if removed != 1 {
                transaction.rollback().await?;
                return Ok(RuleWrite::LeaseLost);
            }
            if let Some((escalation_id, basis_at)) = outcome.fired_timer {
                let fired = sqlx::query(
                    "UPDATE escalation_timers SET state = 'done' \
                     WHERE escalation_id = $1 AND ticket_id = $2 AND basis_at = $3 AND state = 'queued'",
                )
                .bind(escalation_id)
                .bind(outcome.ticket_id)
                .bind(basis_at)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if fired != 1 {
                    transaction.rollback().await?;
                    return Ok(RuleWrite::LeaseLost);
                }
            }
            if let Some((target, due_at)) = outcome.breached {
                let marked = sqlx::query(
                    "UPDATE ticket_slas SET state = 'failed' \
                     WHERE ticket_id = $1 AND target = $2 AND due_at = $3 AND state = 'breaching'",
                )
                .bind(outcome.ticket_id)
                .bind(target)
                .bind(due_at)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if marked != 1 {
                    transaction.rollback().await?;
                    return Ok(RuleWrite::LeaseLost);
                }
            }
            let updated_at: Option<i64> = sqlx::query_scalar("SELECT updated_at FROM tickets WHERE id = $1")
                .bind(outcome.ticket_id)
                .fetch_optional(&mut *transaction)
                .await?;
            if updated_at != Some(outcome.read_at) {
                transaction.rollback().await?;
                return Ok(RuleWrite::TicketChanged);
            }
            for (trigger_id, previous, chosen) in outcome.round_robin {
                let moved = sqlx::query(
                    "UPDATE triggers SET last_agent_id = $1 WHERE id = $2 AND last_agent_id IS NOT DISTINCT FROM $3",
                )
                .bind(*chosen)
                .bind(*trigger_id)
                .bind(*previous)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
                if moved != 1 {
                    transaction.rollback().await?;
                    return Ok(RuleWrite::TicketChanged);
                }
            }
            write_outcome(&mut transaction, outcome, now).await?;
            transaction.commit().await?;
            self.note_ticket_write();
            self.note_ticket_event();
            Ok(RuleWrite::Written)
        })
    }
}

async fn write_outcome(
    connected: &mut impl crate::backend::Connected,
    outcome: &RuleOutcome<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let ticket_id = outcome.ticket_id;
    for note in outcome.notes {
        super::write::insert_message(connected, ticket_id, note, now).await?;
    }
    if let Some(properties) = outcome.properties {
        super::write::update_properties(connected, ticket_id, properties, now).await?;
    }
    super::write::write_field_values(connected, ticket_id, outcome.field_values).await?;
    for step in outcome.steps {
        let actor = TicketActor {
            id: None,
            label: step.actor_label,
        };
        super::write::insert_log(connected, ticket_id, actor, step.log, now).await?;
    }
    for mail in outcome.mails {
        crate::outbox::insert_mail(connected, mail, now).await?;
    }
    for notice in outcome.notices {
        super::write::insert_notice(connected, ticket_id, outcome.message_id, *notice, now).await?;
    }
    on_connection!(&mut *connected, connection => {
        for person_id in outcome.cc_ids {
            sqlx::query("INSERT INTO ticket_ccs (ticket_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(ticket_id)
                .bind(*person_id)
                .execute(&mut *connection)
                .await?;
        }
        for person_id in outcome.follower_ids {
            sqlx::query("INSERT INTO ticket_followers (ticket_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(ticket_id)
                .bind(*person_id)
                .execute(&mut *connection)
                .await?;
        }
        for delivery in outcome.deliveries {
            let delivery_id: i64 = sqlx::query_scalar(
                "INSERT INTO webhook_deliveries (webhook_id, delivery_key, event, payload, state, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
            )
            .bind(delivery.webhook_id)
            .bind(delivery.delivery_key)
            .bind(delivery.event)
            .bind(delivery.payload)
            .bind(now.millis())
            .fetch_one(&mut *connection)
            .await?;
            sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
                .bind(WEBHOOK_DELIVERY_JOB_KIND)
                .bind(format!("{{\"delivery_id\":{delivery_id}}}"))
                .bind(now.millis())
                .bind(WEBHOOK_DELIVERY_ATTEMPTS)
                .bind(now.millis())
                .fetch_one(&mut *connection)
                .await?;
        }
    });
    crate::escalations::write_timers(connected, ticket_id, outcome.timers).await?;
    if let Some(targets) = &outcome.targets {
        crate::slas::write_targets(connected, ticket_id, targets).await?;
    }
    let words_changed = !outcome.notes.is_empty()
        || outcome
            .properties
            .is_some_and(|properties| properties.labels.is_some())
        || !outcome.field_values.is_empty();
    if words_changed {
        super::reindex(connected, super::Reindex::Ticket(ticket_id)).await?;
    }
    let visible = outcome.properties.is_some()
        || !outcome.notes.is_empty()
        || !outcome.field_values.is_empty();
    if visible {
        let kind = if outcome.properties.is_some() || !outcome.field_values.is_empty() {
            super::TicketEventKind::Changed
        } else {
            super::TicketEventKind::Noted
        };
        super::events::insert_event(connected, ticket_id, kind, None, None, now).await?;
    }
    Ok(())
}
