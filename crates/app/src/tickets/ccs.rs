//! Users copied on a ticket's replies: added by address (found or made),
//! removed, each with a line in the ticket's log.

use ferrodesk_core::Email;
use ferrodesk_store::TicketRecord;

use super::{AgentContext, TicketKey};
use crate::audit::Caller;
use crate::{App, AppError, AppResult};

impl App {
    /// Copies a user (found by any address, or made from it) on the
    /// ticket's replies.
    pub async fn add_ticket_cc(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        address: &str,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        let email =
            Email::parse(address).map_err(|error| AppError::invalid("cc", error.to_string()))?;
        // A new user is named after their address until they say otherwise.
        let local_part = email.as_str().split('@').next().unwrap_or("").to_owned();
        let person = self.person_for_address(&email, &local_part).await?;
        if person.is_agent {
            return Err(AppError::invalid(
                "cc",
                "That address belongs to an agent; agents follow tickets instead.",
            ));
        }
        if person.id == ticket.requester_id {
            return Err(AppError::invalid(
                "cc",
                "The requester gets every reply already.",
            ));
        }
        self.write_ticket_cc(
            &context,
            &ticket,
            (person.id, &person.name, &person.email),
            true,
        )
        .await
    }

    /// Stops copying a person on the ticket's replies.
    pub async fn remove_ticket_cc(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        person_id: i64,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        let cc = self
            .store()
            .tickets()
            .ticket_ccs(ticket.id)
            .await?
            .into_iter()
            .find(|cc| cc.id == person_id)
            .ok_or(AppError::NotFound)?;
        self.write_ticket_cc(&context, &ticket, (cc.id, &cc.name, &cc.email), false)
            .await
    }

    async fn write_ticket_cc(
        &self,
        context: &AgentContext,
        ticket: &TicketRecord,
        (person_id, name, email): (i64, &str, &str),
        copied: bool,
    ) -> AppResult<()> {
        let label = format!("{name} <{email}>");
        self.store()
            .tickets()
            .set_ticket_cc(
                ticket.id,
                (person_id, &label),
                copied,
                context.actor(),
                self.now(),
            )
            .await?;
        Ok(())
    }
}
