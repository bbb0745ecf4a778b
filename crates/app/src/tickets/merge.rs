//! Merging a ticket into another the agent may also see.

use ferrodesk_core::{Permission, TicketRef};
use ferrodesk_store::TicketRecord;

use super::{AgentContext, TicketKey};
use crate::audit::Caller;
use crate::{Actor, App, AppError, AppResult};

impl App {
    /// The two tickets a merge would join, checked as the merge checks
    /// them: for the page that asks the agent to confirm.
    pub async fn merge_preview(
        &self,
        actor: &Actor,
        key: &TicketKey,
        into: &str,
    ) -> AppResult<(TicketRecord, TicketRecord)> {
        let context = self.agent_context(actor).await?;
        let (source, target) = self.merge_pair(&context, key, into).await?;
        Ok((source, target))
    }

    async fn merge_pair(
        &self,
        context: &AgentContext,
        key: &TicketKey,
        into: &str,
    ) -> AppResult<(TicketRecord, TicketRecord)> {
        let (source, _) = self.visible_ticket(context, key).await?;
        context.require(Permission::TicketMerge)?;
        let not_seen = || AppError::invalid("into", "No ticket you can see has that reference.");
        let into = TicketRef::parse(into).map_err(|_| not_seen())?;
        let target = match self.visible_ticket(context, &into.into()).await {
            Ok((target, _)) => target,
            Err(AppError::NotFound) => return Err(not_seen()),
            Err(other) => return Err(other),
        };
        if target.id == source.id {
            return Err(AppError::invalid(
                "into",
                "A ticket cannot be merged into itself.",
            ));
        }
        Ok((source, target))
    }

    /// Merges the ticket into another (`into` is its reference as typed):
    /// the messages, log, labels, followers and field values move over, and
    /// the merged reference leads to the other ticket from then on. Answers
    /// the reference of the ticket merged into.
    pub async fn merge_ticket(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        into: &str,
    ) -> AppResult<TicketRef> {
        let context = self.agent_context(caller.actor).await?;
        let (source, target) = self.merge_pair(&context, key, into).await?;
        self.store()
            .tickets()
            .merge_tickets(&source, &target, context.actor(), self.now())
            .await?;
        tracing::info!(agent_id = context.agent_id, "tickets merged");
        Ok(target.reference)
    }
}
