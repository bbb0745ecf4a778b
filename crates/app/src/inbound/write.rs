//! Writing what a received message became: a new ticket (with its CCs and
//! a receipt), a user's reply, an agent's reply or note, or a note for a
//! bounce or an automatic reply. Each message is written with the id of
//! the mail it came from, which marks that mail done in the same
//! transaction, so processing a mail twice can never add it twice.

use ferrodesk_core::message::{MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};
use ferrodesk_core::{Email, Labels, Subject, TicketStatus, Urgency};
use ferrodesk_mail::inbound::InboundMessage;
use ferrodesk_store::{
    EmailAccountRecord, FromMail, InboundMailRecord, NewMessage, NewTicketRow, PersonRecord,
    TicketActor, TicketRecord,
};

use super::InboundOutcome;
use crate::sessions::person_label;
use crate::tickets::{Channel, Drawn, ReplyInput, new_attachments};
use crate::{App, AppError, AppResult, Caller, TicketKey, UploadedFile};

/// The longest HTML body stored; a longer one is shown as its text.
const MAX_STORED_HTML_BYTES: usize = 400_000;
/// CCs taken from one message.
const MAX_MAIL_CCS: usize = 10;

/// A received message as a ticket message: its text and its safe HTML.
pub(super) struct MailBody {
    pub text: String,
    pub html: String,
}

/// The text and HTML a message is stored with: the new part, the quoted
/// history folded away below it, the remote images it wanted to load as
/// links, and notes about what was not kept.
pub(super) fn mail_body(mail: &InboundMessage, notices: &[String]) -> MailBody {
    let mut text = mail.reply_text.clone();
    if text.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    let mut html = match &mail.html {
        Some(safe) if safe.reply_html.len() <= MAX_STORED_HTML_BYTES => {
            let mut html = safe.reply_html.clone();
            if !safe.quoted_html.is_empty() && safe.quoted_html.len() <= MAX_STORED_HTML_BYTES {
                html.push_str("<details class=\"quoted\"><summary>Quoted text</summary>");
                html.push_str(&safe.quoted_html);
                html.push_str("</details>");
            }
            html
        }
        _ => {
            let mut html = text_as_html(&text);
            if !mail.quoted_text.is_empty() {
                html.push_str("<details class=\"quoted\"><summary>Quoted text</summary>");
                html.push_str(&text_as_html(&mail.quoted_text));
                html.push_str("</details>");
            }
            html
        }
    };
    if let Some(safe) = &mail.html
        && !safe.remote_images.is_empty()
    {
        html.push_str("<p class=\"mail-notice\">Remote images were not loaded:");
        for (number, url) in safe.remote_images.iter().enumerate() {
            html.push_str(&format!(
                " <a href=\"{}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">image {}</a>",
                crate::markdown::escape_html(url),
                number + 1
            ));
        }
        html.push_str("</p>");
    }
    for notice in notices {
        html.push_str(&format!(
            "<p class=\"mail-notice\">{}</p>",
            crate::markdown::escape_html(notice)
        ));
    }
    MailBody { text, html }
}

/// Plain text as HTML: escaped, paragraphs at blank lines, line breaks
/// kept.
fn text_as_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 32);
    for paragraph in text
        .split("\n\n")
        .filter(|paragraph| !paragraph.trim().is_empty())
    {
        html.push_str("<p>");
        let lines: Vec<String> = paragraph
            .lines()
            .map(crate::markdown::escape_html)
            .collect();
        html.push_str(&lines.join("<br>\n"));
        html.push_str("</p>\n");
    }
    html
}

/// A subject for a ticket from a mail's subject line.
fn ticket_subject(subject: &str) -> Subject {
    let subject: String = subject.chars().take(MAX_SUBJECT_CHARS).collect();
    Subject::parse(&subject).unwrap_or_else(|_| Subject::untitled())
}

impl App {
    /// Stores a message's files within the admin's limits; files the
    /// limits refuse are named in notices instead.
    pub(super) async fn store_mail_files(
        &self,
        mail: &InboundMessage,
    ) -> AppResult<(Vec<UploadedFile>, Vec<String>)> {
        let limit = self.settings().await?.attachments.max_files_per_message as usize;
        let mut files = Vec::new();
        let mut notices = Vec::new();
        for file in &mail.attachments {
            if files.len() >= limit {
                notices.push(format!(
                    "\u{201c}{}\u{201d} was not kept: at most {limit} files are kept from one message.",
                    file.file_name
                ));
                continue;
            }
            match self.store_mail_file(&file.file_name, &file.bytes).await {
                Ok(Ok(stored)) => files.push(stored),
                Ok(Err(refusal)) => notices.push(format!("Not kept: {refusal}")),
                Err(AppError::Internal(problem)) if problem.contains("no directory") => {
                    notices.push(format!(
                        "\u{201c}{}\u{201d} was not kept: this helpdesk stores no attachments.",
                        file.file_name
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        if mail.attachments_dropped > 0 {
            notices.push(format!(
                "{} more files were not read from this message.",
                mail.attachments_dropped
            ));
        }
        Ok((files, notices))
    }

    /// Opens a ticket for the sender in the account's department (or the
    /// default one), copies the mail's CCs, and sends the receipt unless
    /// the mail was automatic.
    pub(super) async fn open_mail_ticket(
        &self,
        record: &InboundMailRecord,
        account: Option<&EmailAccountRecord>,
        mail: &InboundMessage,
        requester: &PersonRecord,
    ) -> AppResult<InboundOutcome> {
        let department_id = match self.mail_department(account).await? {
            Some(id) => id,
            None => {
                return Ok(InboundOutcome::Rejected(
                    "No department takes new tickets.".to_owned(),
                ));
            }
        };
        let (files, notices) = self.store_mail_files(mail).await?;
        let body = mail_body(mail, &notices);
        let attachments = new_attachments(&files);
        let message = NewMessage {
            author_id: Some(requester.id),
            is_note: false,
            body_markdown: &body.text,
            body_html: &body.html,
            channel: Channel::Email.key(),
            ip: "",
            attachments: &attachments,
            inbound_mail: Some(FromMail {
                id: record.id,
                outcome: super::NEW_TICKET,
            }),
        };
        let subject = ticket_subject(&mail.subject);
        // The receipt (threaded under the customer's own message) is the
        // rules' work; an automatic mail gets none.
        let automatic = mail.automatic.is_some();
        let no_labels = Labels::default();
        let (message, no_labels, subject) = (&message, &no_labels, &subject);
        let opened = self
            .open_with_fresh_reference(|reference| {
                Box::pin(async move {
                    let row = NewTicketRow {
                        reference: &reference,
                        subject: subject.as_str(),
                        status: TicketStatus::after_user_message(),
                        urgency: Urgency::LOWEST,
                        department_id,
                        requester_id: requester.id,
                        organization_id: requester.organization_id,
                        agent_id: None,
                        team_id: None,
                        labels: no_labels,
                        field_values: &[],
                        message,
                        mails: &[],
                        audit: None,
                        actor_id: Some(requester.id),
                        automatic,
                    };
                    Drawn::from_store(self.store().tickets().create_ticket(&row, self.now()).await)
                })
            })
            .await?;
        let Some((ticket_id, reference)) = opened else {
            return Ok(InboundOutcome::Rejected(
                "The account's department no longer exists.".to_owned(),
            ));
        };
        self.copy_mail_ccs(ticket_id, mail, requester).await?;
        Ok(InboundOutcome::NewTicket(reference))
    }

    /// The department an account's new tickets go to, or the default one.
    async fn mail_department(
        &self,
        account: Option<&EmailAccountRecord>,
    ) -> AppResult<Option<i64>> {
        if let Some(id) = account.and_then(|account| account.department_id) {
            let exists = self
                .store()
                .departments()
                .list_departments()
                .await?
                .iter()
                .any(|department| department.id == id);
            if exists {
                return Ok(Some(id));
            }
        }
        self.default_department().await
    }

    /// Whether an address may get one more automatic mail this hour.
    pub(crate) async fn may_auto_reply(&self, address: &str) -> AppResult<bool> {
        let limit = self
            .settings()
            .await?
            .mail_in
            .auto_replies_per_address_per_hour;
        let key = format!(
            "mail-auto-reply:{}",
            crate::secrets::token_hash(&address.to_lowercase())
        );
        Ok(self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &key,
                std::time::Duration::from_secs(60 * 60),
                i64::from(limit),
                self.now(),
            )
            .await?)
    }

    /// Copies the people in the mail's Cc on the new ticket: users only
    /// (never agents, never the helpdesk's own addresses), made when new
    /// unless registration is closed.
    async fn copy_mail_ccs(
        &self,
        ticket_id: i64,
        mail: &InboundMessage,
        requester: &PersonRecord,
    ) -> AppResult<()> {
        let closed =
            self.settings().await?.help_center.registration == crate::RegistrationMode::Closed;
        let label = person_label(requester);
        let actor = TicketActor {
            id: Some(requester.id),
            label: &label,
        };
        for cc in mail.cc.iter().take(MAX_MAIL_CCS) {
            let Ok(address) = Email::parse(&cc.address) else {
                continue;
            };
            if address.normalized() == requester.email.to_lowercase()
                || self
                    .store()
                    .email_accounts()
                    .email_account_by_address(&address.normalized())
                    .await?
                    .is_some()
            {
                continue;
            }
            let person = match self.person_with_address(&address).await? {
                Some(person) => person,
                None if closed => continue,
                None => {
                    let name = cc
                        .name
                        .as_deref()
                        .and_then(|name| ferrodesk_core::PersonName::parse(name).ok())
                        .map(|name| name.as_str().to_owned())
                        .unwrap_or_else(|| address.as_str().to_owned());
                    self.person_for_address(&address, &name).await?
                }
            };
            if person.is_agent || person.id == requester.id {
                continue;
            }
            let person_label = person_label(&person);
            self.store()
                .tickets()
                .set_ticket_cc(
                    ticket_id,
                    (person.id, &person_label),
                    true,
                    actor,
                    self.now(),
                )
                .await?;
        }
        Ok(())
    }

    /// A user's reply by mail: on the ticket, which goes back to the agents.
    pub(super) async fn add_mail_reply(
        &self,
        record: &InboundMailRecord,
        mail: &InboundMessage,
        ticket: &TicketRecord,
        person: &PersonRecord,
    ) -> AppResult<InboundOutcome> {
        let (files, notices) = self.store_mail_files(mail).await?;
        let body = mail_body(mail, &notices);
        let attachments = new_attachments(&files);
        let label = person_label(person);
        self.write_status_and_message(
            ticket,
            (
                TicketActor {
                    id: Some(person.id),
                    label: &label,
                },
                false,
            ),
            (TicketStatus::after_user_message(), self.now()),
            (
                Some(&NewMessage {
                    author_id: Some(person.id),
                    is_note: false,
                    body_markdown: &body.text,
                    body_html: &body.html,
                    channel: Channel::Email.key(),
                    ip: "",
                    attachments: &attachments,
                    inbound_mail: Some(FromMail {
                        id: record.id,
                        outcome: super::REPLY,
                    }),
                }),
                crate::tickets::MessageCue::Plain,
            ),
            &[],
        )
        .await?;
        self.wake_workers();
        Ok(InboundOutcome::Reply(ticket.reference.clone()))
    }

    /// A bounce or an automatic reply kept on the ticket as an internal
    /// note, leaving its status alone.
    pub(super) async fn add_mail_note(
        &self,
        record: &InboundMailRecord,
        mail: &InboundMessage,
        ticket: &TicketRecord,
        (author, heading): (Option<&PersonRecord>, &str),
    ) -> AppResult<InboundOutcome> {
        let mut body = mail_body(mail, &[]);
        let sender = mail.from.as_ref().map_or("", |from| from.address.as_str());
        body.html = format!(
            "<p class=\"mail-notice\"><strong>{}</strong> from {}</p>{}",
            crate::markdown::escape_html(heading),
            crate::markdown::escape_html(sender),
            body.html
        );
        body.text = format!("{heading} from {sender}\n\n{}", body.text);
        let label = author.map_or_else(|| format!("mail system <{sender}>"), person_label);
        self.write_status_and_message(
            ticket,
            (
                TicketActor {
                    id: author.map(|author| author.id),
                    label: &label,
                },
                false,
            ),
            (ticket.status, self.now()),
            (
                Some(&NewMessage {
                    author_id: author.map(|author| author.id),
                    is_note: true,
                    body_markdown: &body.text,
                    body_html: &body.html,
                    channel: Channel::Email.key(),
                    ip: "",
                    attachments: &[],
                    inbound_mail: Some(FromMail {
                        id: record.id,
                        outcome: super::NOTE,
                    }),
                }),
                crate::tickets::MessageCue::Automatic,
            ),
            &[],
        )
        .await?;
        Ok(InboundOutcome::Note(ticket.reference.clone()))
    }

    /// An agent's answer by mail, with the agent's permissions as on the
    /// web: a reply to the customer, or a note when its first line is
    /// `#note`.
    pub(super) async fn add_agent_mail_reply(
        &self,
        record: &InboundMailRecord,
        mail: &InboundMessage,
        ticket: &TicketRecord,
        agent: &PersonRecord,
    ) -> AppResult<InboundOutcome> {
        if agent.is_disabled {
            return Ok(InboundOutcome::Rejected(
                "The agent's account is disabled.".to_owned(),
            ));
        }
        let (is_note, text) = note_marker(&mail.reply_text);
        let (files, notices) = self.store_mail_files(mail).await?;
        let mut text = text.to_owned();
        for notice in &notices {
            text.push_str("\n\n");
            text.push_str(notice);
        }
        let actor = crate::sessions::actor_of_agent(agent);
        let input = ReplyInput {
            body: crate::tickets::parsed("body", ferrodesk_core::MessageText::parse(&text)),
            is_note,
            status: None,
            seen_message_id: None,
            attachments: files,
            channel: Channel::Email,
            inbound_mail: Some(FromMail {
                id: record.id,
                outcome: super::AGENT_REPLY,
            }),
        };
        match self
            .reply_to_ticket(&Caller::new(&actor, ""), &TicketKey::Id(ticket.id), &input)
            .await
        {
            Ok(_) => Ok(InboundOutcome::AgentReply(ticket.reference.clone())),
            Err(AppError::Forbidden | AppError::NotFound) => Ok(InboundOutcome::Rejected(
                "The agent may not answer this ticket.".to_owned(),
            )),
            Err(AppError::Invalid(errors)) => Ok(InboundOutcome::Rejected(format!(
                "The agent's answer was refused: {}",
                errors
                    .iter()
                    .map(|(_, message)| message)
                    .collect::<Vec<_>>()
                    .join(" ")
            ))),
            Err(other) => Err(other),
        }
    }
}

/// Whether an agent's mail is a note (`#note` alone on its first line),
/// and the text without that line.
fn note_marker(text: &str) -> (bool, &str) {
    let trimmed = text.trim_start();
    let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
    if first.trim().eq_ignore_ascii_case("#note") {
        (true, rest.trim_start())
    } else {
        (false, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_marked_on_its_first_line() {
        assert_eq!(note_marker("#note\nCalled them."), (true, "Called them."));
        assert_eq!(note_marker("  #NOTE  \r\nx"), (true, "x"));
        assert_eq!(note_marker("Hello #note"), (false, "Hello #note"));
    }

    #[test]
    fn text_bodies_become_escaped_paragraphs() {
        assert_eq!(
            text_as_html("Hi <b>\nthere\n\nBye & thanks"),
            "<p>Hi &lt;b&gt;<br>\nthere</p>\n<p>Bye &amp; thanks</p>\n"
        );
    }
}
