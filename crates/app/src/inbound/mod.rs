//! Mail in: a received message is stored whole first, with the job that
//! processes it, and only then read and turned into a ticket, a reply, an
//! agent's answer or a note, or refused to the rejection log with why. A
//! message that fails to process stays stored and its job is retried; an
//! admin can send a refused one through again once its cause is fixed.

mod accounts;
mod fetch;
mod rejections;
mod route;
mod threading;
pub(crate) use threading::is_plain_message_id;
mod write;

use ferrodesk_core::{Email, TicketRef};
use ferrodesk_mail::inbound::{
    HeaderSummary, InboundMessage, MAX_INBOUND_BYTES, header_summary, parse_inbound,
};
use ferrodesk_store::{
    EmailAccountRecord, InboundMailRecord, MailSource, NewInboundMail, Refusal, StoredSource,
};

use crate::jobs::{JobFailure, JobResult};
use crate::{App, AppError, AppResult, UploadedFile};

/// The most of an oversized message kept for the rejection log.
const OVERSIZED_KEPT_BYTES: usize = 256 * 1024;
/// A received message this large or larger keeps its source as a file in
/// the attachment store rather than in its row (bound into an INSERT, a
/// 30 MB source was copied three times over in memory).
const SOURCE_FILE_BYTES: usize = 1024 * 1024;
/// How long one node may take to process a message before another may.
const PROCESSING_LEASE: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// How long the pipe waits for a message another node is processing.
const WAIT_FOR_OTHER_NODE: std::time::Duration = std::time::Duration::from_secs(10);

/// Why an oversized message is refused.
pub(crate) fn oversized_reason(size: usize) -> String {
    format!(
        "The message is {} MiB; at most {} MiB are taken. Only its start is kept here.",
        size.div_ceil(1024 * 1024),
        MAX_INBOUND_BYTES / (1024 * 1024)
    )
}

pub use accounts::{EmailAccountInput, EmailAccountView};
pub use fetch::FetchReport;
pub use rejections::{REJECTIONS_PAGE_SIZE, RejectionPage};

/// A message refused as it is stored: why, and the notice to its sender.
pub(crate) struct OversizedRefusal {
    reason: String,
    notice: Option<crate::mail::ComposedMail>,
}

impl OversizedRefusal {
    pub(crate) fn as_refusal(&self) -> Refusal<'_> {
        Refusal {
            reason: &self.reason,
            notice: self.notice.as_ref().map(crate::mail::ComposedMail::as_new),
        }
    }
}

/// Where a source goes: its file when it has one, else its row.
pub(crate) fn mail_source<'a>(source: &'a [u8], file: Option<&'a UploadedFile>) -> MailSource<'a> {
    match file {
        Some(file) => MailSource::File {
            sha256: &file.sha256,
            size: source.len(),
        },
        None => MailSource::Row(source),
    }
}

/// What a processed message became, as its row notes it.
const NEW_TICKET: &str = "new ticket";
const REPLY: &str = "reply";
const AGENT_REPLY: &str = "agent's answer";
const NOTE: &str = "note";

/// What a received message became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    NewTicket(TicketRef),
    Reply(TicketRef),
    AgentReply(TicketRef),
    /// A bounce or an automatic reply, kept as a note.
    Note(TicketRef),
    /// A copy of a message already on this ticket.
    Duplicate(Option<i64>),
    Rejected(String),
    /// Stored, to be processed by a background job (processing failed for
    /// now and will be tried again).
    Pending,
}

impl InboundOutcome {
    /// In words, for the command line and logs.
    pub fn describe(&self) -> String {
        match self {
            InboundOutcome::NewTicket(reference) => format!("new ticket {reference}"),
            InboundOutcome::Reply(reference) => format!("reply on {reference}"),
            InboundOutcome::AgentReply(reference) => format!("agent's answer on {reference}"),
            InboundOutcome::Note(reference) => format!("note on {reference}"),
            InboundOutcome::Duplicate(_) => "a copy of a message already stored".to_owned(),
            InboundOutcome::Rejected(reason) => format!("rejected: {reason}"),
            InboundOutcome::Pending => "stored; it will be processed in the background".to_owned(),
        }
    }
}

impl App {
    /// Takes one message from a mail server (`ferrodesk mail receive`):
    /// stored first, then processed at once. `account` picks the account
    /// by its address; without it (or when none has that address) new
    /// tickets go to the default department. An error means nothing was
    /// stored and the mail server should try again.
    pub async fn receive_mail(
        &self,
        raw: &[u8],
        account: Option<&str>,
    ) -> AppResult<(i64, InboundOutcome)> {
        let account = match account.map(Email::parse) {
            Some(Ok(address)) => {
                self.store()
                    .email_accounts()
                    .email_account_by_address(&address.normalized())
                    .await?
            }
            _ => None,
        };
        let id = self
            .store_received_mail(raw, account.as_ref().map(|account| account.id), None)
            .await?
            .ok_or_else(|| AppError::Internal("the message was not stored".to_owned()))?;
        let mut outcome = match self.process_inbound_mail_with(id, Some(raw)).await {
            // Done by a worker that took it first, or still being done:
            // what it became is on its row.
            Ok(InboundOutcome::Duplicate(_) | InboundOutcome::Pending) => {
                self.inbound_outcome(id).await?
            }
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(inbound_mail_id = id, %error, "a received mail could not be processed yet; its job will try again");
                InboundOutcome::Pending
            }
        };
        // A worker may have taken it first: wait a moment for its answer.
        let deadline = std::time::Instant::now() + WAIT_FOR_OTHER_NODE;
        while outcome == InboundOutcome::Pending && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            outcome = self.inbound_outcome(id).await?;
        }
        Ok((id, outcome))
    }

    /// Stores a received message with its processing job; `None` when the
    /// same IMAP message is stored already. An oversized one is kept in
    /// part and refused as it is stored.
    pub(crate) async fn store_received_mail(
        &self,
        raw: &[u8],
        account_id: Option<i64>,
        imap: Option<(i64, i64)>,
    ) -> AppResult<Option<i64>> {
        let oversized = raw.len() > MAX_INBOUND_BYTES;
        let kept = if oversized {
            &raw[..OVERSIZED_KEPT_BYTES]
        } else {
            raw
        };
        let summary = header_summary(kept);
        let refusal = self.refusal_if_oversized(&summary, raw.len()).await?;
        let file = self.keep_source_file(kept).await?;
        let stored = self
            .store()
            .inbound_mail()
            .store_inbound_mail(
                &NewInboundMail {
                    account_id,
                    imap,
                    source: mail_source(kept, file.as_ref()),
                    message_id: &summary.message_id,
                    sender: &summary.sender,
                    subject: &summary.subject,
                    refused: refusal.as_ref().map(OversizedRefusal::as_refusal),
                },
                self.now(),
            )
            .await?;
        if stored.is_some() {
            self.wake_workers();
        }
        Ok(stored)
    }

    /// Writes a large source to its file first; `None` for a small one
    /// (or when no files are stored), which its row keeps.
    pub(crate) async fn keep_source_file(&self, source: &[u8]) -> AppResult<Option<UploadedFile>> {
        if source.len() < SOURCE_FILE_BYTES {
            return Ok(None);
        }
        self.store_source_file(source).await
    }

    /// The source of received message `id`, from its row or its file.
    pub(crate) async fn received_source(&self, id: i64) -> AppResult<Option<Vec<u8>>> {
        match self.store().inbound_mail().inbound_mail_source(id).await? {
            None => Ok(None),
            Some(StoredSource::Row(raw)) => Ok(Some(raw)),
            Some(StoredSource::File(sha256)) => self.read_stored_file(&sha256).await.map(Some),
        }
    }

    /// For a message of `size` bytes too large to take: why it is refused,
    /// and the mail telling its sender, unless the message is automatic,
    /// comes from one of the helpdesk's own addresses, or its sender has
    /// had their automatic mails for the hour. `None` for one it takes.
    pub(crate) async fn refusal_if_oversized(
        &self,
        summary: &HeaderSummary,
        size: usize,
    ) -> AppResult<Option<OversizedRefusal>> {
        if size <= MAX_INBOUND_BYTES {
            return Ok(None);
        }
        let reason = oversized_reason(size);
        let notice = self.refusal_notice(summary, &reason).await?;
        Ok(Some(OversizedRefusal { reason, notice }))
    }

    /// The mail that tells a sender their message was refused, when one
    /// may go to them.
    async fn refusal_notice(
        &self,
        summary: &HeaderSummary,
        reason: &str,
    ) -> AppResult<Option<crate::mail::ComposedMail>> {
        let Ok(sender) = Email::parse(&summary.sender) else {
            return Ok(None);
        };
        if summary.automatic.is_some()
            || self.is_our_address(&sender).await?
            || !self.may_auto_reply(sender.as_str()).await?
        {
            return Ok(None);
        }
        let name = match summary.sender_name.as_str() {
            "" => sender.as_str(),
            name => name,
        };
        let mail = self
            .compose_mail(
                ferrodesk_mail::TemplateKind::MailRefused,
                name,
                sender.as_str(),
                serde_json::json!({
                    "name": name,
                    "subject": summary.subject,
                    "reason": reason,
                }),
            )
            .await?;
        let theirs = Some(summary.message_id.as_str())
            .filter(|id| threading::is_plain_message_id(id))
            .map(|id| format!("<{id}>"));
        Ok(Some(match theirs {
            Some(theirs) => {
                let own_id = ferrodesk_mail::new_message_id(&self.message_id_domain());
                mail.in_thread(own_id, &theirs, None)
            }
            None => mail,
        }))
    }

    /// The background job of one received message.
    pub(crate) async fn process_inbound_job(&self, payload: &str) -> JobResult {
        let id = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|value| value["inbound_mail_id"].as_i64())
            .ok_or_else(|| JobFailure::Permanent(format!("bad payload {payload}")))?;
        match self.process_inbound_mail(id).await {
            Ok(outcome) => {
                tracing::info!(inbound_mail_id = id, outcome = %outcome.describe(), "received mail processed");
                Ok(())
            }
            Err(AppError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// What a stored message became, as far as it has.
    async fn inbound_outcome(&self, id: i64) -> AppResult<InboundOutcome> {
        let record = self
            .store()
            .inbound_mail()
            .get_inbound_mail(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let ticket = match record.ticket_id {
            Some(ticket_id) => self.store().tickets().get_ticket(ticket_id).await?,
            None => None,
        };
        Ok(match (record.state.as_str(), ticket) {
            ("rejected", _) => InboundOutcome::Rejected(record.reason),
            ("done", Some(ticket)) => match record.reason.as_str() {
                NEW_TICKET => InboundOutcome::NewTicket(ticket.reference),
                REPLY => InboundOutcome::Reply(ticket.reference),
                AGENT_REPLY => InboundOutcome::AgentReply(ticket.reference),
                NOTE => InboundOutcome::Note(ticket.reference),
                // Written by an earlier version, which noted the outcome
                // after the message.
                "" => InboundOutcome::Pending,
                _ => InboundOutcome::Duplicate(Some(ticket.id)),
            },
            ("done", None) => InboundOutcome::Duplicate(None),
            _ => InboundOutcome::Pending,
        })
    }

    /// Reads a stored message and carries out where it goes, holding it so
    /// that no other node does the same. A message processed already (or
    /// being processed elsewhere) answers where it stands.
    pub async fn process_inbound_mail(&self, id: i64) -> AppResult<InboundOutcome> {
        self.process_inbound_mail_with(id, None).await
    }

    /// As `process_inbound_mail`, with the source at hand when the caller
    /// has it (the pipe), so a large message is not read back.
    async fn process_inbound_mail_with(
        &self,
        id: i64,
        source: Option<&[u8]>,
    ) -> AppResult<InboundOutcome> {
        let received = self.store().inbound_mail();
        let now = self.now();
        if !received
            .take_inbound_mail(id, now.plus(PROCESSING_LEASE), now)
            .await?
        {
            // Done before, or being done elsewhere: this call adds nothing.
            let record = received
                .get_inbound_mail(id)
                .await?
                .ok_or(AppError::NotFound)?;
            return Ok(match record.state.as_str() {
                "rejected" => InboundOutcome::Rejected(record.reason),
                "done" => InboundOutcome::Duplicate(record.ticket_id),
                _ => InboundOutcome::Pending,
            });
        }
        let result = self.process_taken_mail(id, source).await;
        if result.is_err() {
            received.release_inbound_mail(id).await?;
        }
        result
    }

    async fn process_taken_mail(
        &self,
        id: i64,
        source: Option<&[u8]>,
    ) -> AppResult<InboundOutcome> {
        let received = self.store().inbound_mail();
        let record = received
            .get_inbound_mail(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let stored;
        let raw = match source {
            Some(source) => source,
            None => {
                stored = self.received_source(id).await?.unwrap_or_default();
                stored.as_slice()
            }
        };
        let account = match record.account_id {
            Some(account_id) => {
                self.store()
                    .email_accounts()
                    .get_email_account(account_id)
                    .await?
            }
            None => None,
        };
        let outcome = match parse_inbound(raw) {
            Ok(mail) => self.carry_out(&record, account.as_ref(), &mail).await?,
            Err(error) => InboundOutcome::Rejected(format!("The message cannot be read: {error}.")),
        };
        match &outcome {
            InboundOutcome::Rejected(reason) => {
                received
                    .reject_inbound_mail(id, reason, None, self.now())
                    .await?;
            }
            InboundOutcome::Duplicate(ticket_id) => {
                received
                    .mark_inbound_done(
                        id,
                        *ticket_id,
                        "a copy of a message already stored",
                        self.now(),
                    )
                    .await?;
            }
            // Noted with the message, in its transaction.
            InboundOutcome::NewTicket(_)
            | InboundOutcome::Reply(_)
            | InboundOutcome::AgentReply(_)
            | InboundOutcome::Note(_)
            | InboundOutcome::Pending => {}
        }
        Ok(outcome)
    }

    async fn carry_out(
        &self,
        record: &InboundMailRecord,
        account: Option<&EmailAccountRecord>,
        mail: &InboundMessage,
    ) -> AppResult<InboundOutcome> {
        match self.route_mail(record, mail).await? {
            route::Route::Reject(reason) => Ok(InboundOutcome::Rejected(reason)),
            route::Route::Duplicate(ticket_id) => Ok(InboundOutcome::Duplicate(Some(ticket_id))),
            route::Route::NewTicket { requester } => {
                self.open_mail_ticket(record, account, mail, &requester)
                    .await
            }
            route::Route::UserReply { ticket, person } => {
                self.add_mail_reply(record, mail, &ticket, &person).await
            }
            route::Route::AgentReply { ticket, agent } => {
                self.add_agent_mail_reply(record, mail, &ticket, &agent)
                    .await
            }
            route::Route::Note {
                ticket,
                author,
                heading,
            } => {
                self.add_mail_note(record, mail, &ticket, (author.as_ref(), heading))
                    .await
            }
        }
    }
}
