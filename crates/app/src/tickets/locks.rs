//! Working on a ticket: the manual lock an agent takes while writing, and
//! following a ticket.

use std::time::Duration;

use ferrodesk_core::Permission;

use super::TicketKey;
use crate::{Actor, App, AppError, AppResult};

/// How long a manual lock holds unless released.
pub const TICKET_LOCK_DURATION: Duration = Duration::from_secs(30 * 60);

impl App {
    /// Takes a manual lock on the ticket for `TICKET_LOCK_DURATION`, or
    /// releases it. Another agent's unexpired lock can be broken only by
    /// an admin.
    pub async fn lock_ticket(&self, actor: &Actor, key: &TicketKey, lock: bool) -> AppResult<()> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        if !context.effective.has(Permission::TicketReply)
            && !context.effective.has(Permission::TicketNote)
        {
            return Err(AppError::Forbidden);
        }
        let now = self.now();
        let held_by_other = ticket
            .locked_by_id
            .is_some_and(|holder| holder != context.agent_id)
            && ticket
                .locked_until
                .is_some_and(|until| until > now.millis());
        if held_by_other && !actor.may_administer() {
            return Err(AppError::Conflict(format!(
                "{} holds the lock on this ticket.",
                ticket.locked_by_name.as_deref().unwrap_or("Another agent")
            )));
        }
        let new_lock = lock.then(|| (context.agent_id, now.plus(TICKET_LOCK_DURATION)));
        self.store()
            .tickets()
            .set_ticket_lock(ticket.id, new_lock)
            .await?;
        Ok(())
    }

    pub async fn follow_ticket(
        &self,
        actor: &Actor,
        key: &TicketKey,
        following: bool,
    ) -> AppResult<()> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        self.store()
            .tickets()
            .set_following(ticket.id, context.agent_id, following)
            .await?;
        Ok(())
    }
}
