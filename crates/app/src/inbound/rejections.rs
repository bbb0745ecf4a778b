//! The rejection log (Admin → Email → Rejected mail): every message not
//! turned into a ticket or a reply, with why, its source for admins, and
//! "process again" once the cause is fixed. Agents may read the source of
//! a message on a ticket they may see ("View original").

use ferrodesk_store::InboundMailRecord;

use crate::audit::{Audit, Caller};
use crate::error::parse_keyset_cursor;
use crate::{Actor, App, AppError, AppResult, TicketKey};

/// Rejected messages per page.
pub const REJECTIONS_PAGE_SIZE: i64 = 50;

/// A page of the rejection log.
#[derive(Debug, Clone)]
pub struct RejectionPage {
    pub mails: Vec<InboundMailRecord>,
    /// The cursor of the next (older) page.
    pub next: Option<String>,
}

impl App {
    /// Rejected messages, newest first (admins).
    pub async fn rejected_mail(
        &self,
        actor: &Actor,
        before: Option<&str>,
    ) -> AppResult<RejectionPage> {
        actor.require_admin()?;
        let before = parse_keyset_cursor(before)?;
        let mut mails = self
            .store()
            .inbound_mail()
            .rejected_inbound_mails(before, REJECTIONS_PAGE_SIZE + 1)
            .await?;
        let next = if mails.len() > REJECTIONS_PAGE_SIZE as usize {
            mails.truncate(REJECTIONS_PAGE_SIZE as usize);
            mails
                .last()
                .map(|last| format!("{}.{}", last.received_at, last.id))
        } else {
            None
        };
        Ok(RejectionPage { mails, next })
    }

    /// A received message's source (admins): for the rejection log's
    /// download.
    pub async fn received_mail_source(
        &self,
        caller: &Caller<'_>,
        id: i64,
    ) -> AppResult<(InboundMailRecord, Vec<u8>)> {
        caller.actor.require_admin()?;
        let received = self.store().inbound_mail();
        let record = received
            .get_inbound_mail(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let source = self.received_source(id).await?.ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "inbound_mail.source_read").on(
            "inbound_mail",
            Some(id),
            &format!("received mail {id} from {}", record.sender),
        );
        self.audit(&audit).await?;
        Ok((record, source))
    }

    /// Deletes rejected messages older than the admin's retention (mail
    /// that became a ticket message stays with it); answers how many went.
    pub async fn forget_old_rejected_mail(&self) -> AppResult<u64> {
        let days = u64::from(self.settings().await?.mail_in.rejections_kept_days.max(1));
        let cutoff = self
            .now()
            .minus(std::time::Duration::from_secs(days * 24 * 60 * 60));
        Ok(self
            .store()
            .inbound_mail()
            .forget_inbound_mails(cutoff)
            .await?)
    }

    /// Sends a rejected message through again (admins), after its cause
    /// was fixed (an account, a department, registration opened…).
    pub async fn process_rejected_mail_again(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        caller.actor.require_admin()?;
        if !self
            .store()
            .inbound_mail()
            .retry_inbound_mail(id, self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        let audit = Audit::new(caller, "inbound_mail.retried").on(
            "inbound_mail",
            Some(id),
            &format!("received mail {id}"),
        );
        self.audit(&audit).await?;
        self.wake_workers();
        Ok(())
    }

    /// The source of the mail a message came from, for agents who may see
    /// its ticket.
    pub async fn message_original(
        &self,
        actor: &Actor,
        key: &TicketKey,
        message_id: i64,
    ) -> AppResult<Vec<u8>> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let inbound_id = self
            .store()
            .inbound_mail()
            .inbound_mail_of_message(ticket.id, message_id)
            .await?
            .ok_or(AppError::NotFound)?;
        self.received_source(inbound_id)
            .await?
            .ok_or(AppError::NotFound)
    }
}
