//! An ended chat becomes a ticket: the whole conversation as its first
//! message (channel `chat`), in the chat's department, requested by the
//! visitor as a user (found by address, or made), assigned to the agent
//! who held the chat. A chat an agent answered is saved resolved; one
//! nobody took waits for an agent like any new request. Files sent in the
//! chat are the message's attachments. A signed-in user may have chosen
//! one of their open tickets instead: the transcript is then a message of
//! that ticket.

use ferrodesk_core::{Email, Labels, Subject, TicketStatus, Timestamp, Urgency};
use ferrodesk_store::{
    ChatRecord, NewAttachment, NewMessage, NewTicketRow, PersonRecord, TicketActor,
};

use crate::tickets::create::{Drawn, OpenAttempt};
use crate::{App, AppError, AppResult};

/// Where visitors who gave no address are filed (RFC 2606 reserves
/// `.invalid`; the outbox never mails it).
const NO_ADDRESS_DOMAIN: &str = "visitors.invalid";

/// Every ASCII punctuation mark escaped, so what people wrote reads as
/// they wrote it and cannot pass for the transcript's own lines.
fn markdown_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if character.is_ascii_punctuation() {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

impl App {
    /// Saves an ended chat's transcript as a ticket, once.
    pub(crate) async fn save_transcript(&self, chat_id: i64) -> AppResult<()> {
        let chats = self.store().chats();
        let chat = chats.chat(chat_id).await?.ok_or(AppError::NotFound)?;
        if chat.ticket_id.is_some() {
            return Ok(());
        }
        let messages = chats.chat_messages(chat_id).await?;
        let requester = self.chat_requester(&chat).await?;
        if requester.is_agent {
            // As the request form does: a visitor cannot file under an
            // agent's address.
            tracing::info!(
                chat_id,
                "chat under an agent's address; no transcript ticket"
            );
            return Ok(());
        }
        let zone = self.default_zone().await?;
        let mut body = format!(
            "Chat in {}, started {}{}.\n\n",
            markdown_literal(&chat.department_name),
            zone.time(Timestamp(chat.created_at)),
            if chat.page_url.is_empty() {
                String::new()
            } else {
                format!(" on {}", markdown_literal(&chat.page_url))
            },
        );
        let mut attachments = Vec::new();
        for message in &messages {
            let lines: Vec<String> = message.body.lines().map(markdown_literal).collect();
            let sent = if message.file.file_sha256.is_some() {
                format!("(sent the file {}, attached)", lines.join(" "))
            } else {
                lines.join("  \n")
            };
            body.push_str(&format!(
                "**{}** ({}):  \n{}\n\n",
                markdown_literal(&message.author_name),
                zone.time(Timestamp(message.created_at)),
                sent,
            ));
            if let (Some(sha256), Some(name), Some(content_type), Some(size)) = (
                message.file.file_sha256.as_deref(),
                message.file.file_name.as_deref(),
                message.file.file_type.as_deref(),
                message.file.file_size,
            ) {
                attachments.push(NewAttachment {
                    blob_sha256: sha256,
                    file_name: name,
                    content_type,
                    size,
                });
            }
        }
        let html = crate::markdown::render_message(&body);
        let subject = Subject::parse(&format!("Chat with {}", chat.visitor_name))
            .or_else(|_| Subject::parse("Chat"))
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let message = NewMessage {
            author_id: Some(requester.id),
            is_note: false,
            body_markdown: &body,
            body_html: &html,
            channel: "chat",
            ip: &chat.ip,
            attachments: &attachments,
            inbound_mail: None,
        };
        if let Some(ticket_id) = self
            .add_to_chosen_ticket(&chat, &requester, &message)
            .await?
        {
            self.transcript_saved(&chat, &messages, (ticket_id, requester.id))
                .await?;
            tracing::info!(
                chat_id,
                ticket_id,
                "chat transcript added to the user's ticket"
            );
            return Ok(());
        }
        let labels = Labels::default();
        let status = if chat.agent_id.is_some() {
            TicketStatus::Resolved
        } else {
            TicketStatus::after_user_message()
        };
        let (message, labels, subject, requester_ref) = (&message, &labels, &subject, &requester);
        let opened = self
            .open_with_fresh_reference(|reference| -> OpenAttempt<'_> {
                let chat = &chat;
                Box::pin(async move {
                    let row = NewTicketRow {
                        reference: &reference,
                        subject: subject.as_str(),
                        status,
                        urgency: Urgency::default(),
                        department_id: chat.department_id,
                        requester_id: requester_ref.id,
                        organization_id: requester_ref.organization_id,
                        agent_id: chat.agent_id,
                        team_id: None,
                        labels,
                        field_values: &[],
                        message,
                        mails: &[],
                        audit: None,
                        // A chat an agent answered was opened by them;
                        // a missed one by the visitor, who is sent the
                        // usual receipt.
                        actor_id: chat.agent_id.or(Some(requester_ref.id)),
                        automatic: false,
                    };
                    Drawn::from_store(self.store().tickets().create_ticket(&row, self.now()).await)
                })
            })
            .await?;
        let Some((ticket_id, reference)) = opened else {
            return Err(AppError::Internal(
                "the chat's department is gone".to_owned(),
            ));
        };
        self.transcript_saved(&chat, &messages, (ticket_id, requester.id))
            .await?;
        tracing::info!(chat_id, %reference, "chat transcript saved as a ticket");
        Ok(())
    }

    /// Notes where the transcript went (and who the visitor is), mails it
    /// if the visitor asked, and wakes the workers for the rules.
    async fn transcript_saved(
        &self,
        chat: &ChatRecord,
        messages: &[ferrodesk_store::ChatMessageRecord],
        (ticket_id, requester_id): (i64, i64),
    ) -> AppResult<()> {
        self.store()
            .chats()
            .set_chat_ticket(chat.id, ticket_id, requester_id)
            .await?;
        self.mail_transcript_if_wanted(chat, messages, ticket_id)
            .await?;
        self.wake_workers();
        Ok(())
    }

    /// Mails the visitor their chat, if they asked for it, with a link to
    /// the ticket it is kept in.
    async fn mail_transcript_if_wanted(
        &self,
        chat: &ChatRecord,
        messages: &[ferrodesk_store::ChatMessageRecord],
        ticket_id: i64,
    ) -> AppResult<()> {
        if !chat.transcript_wanted {
            return Ok(());
        }
        let zone = self.default_zone().await?;
        let lines: Vec<serde_json::Value> = messages
            .iter()
            .map(|message| {
                let text = match message.file.file_name.as_deref() {
                    Some(name) => format!("(sent the file {name})"),
                    None => message.body.clone(),
                };
                serde_json::json!({
                    "author": message.author_name,
                    "time": zone.time(Timestamp(message.created_at)),
                    "text": text,
                })
            })
            .collect();
        let link = match self.store().tickets().get_ticket(ticket_id).await? {
            Some(ticket) => {
                Some(self.ticket_link(&ticket.reference, &self.ticket_access_code(&ticket)))
            }
            None => None,
        };
        let context = serde_json::json!({
            "name": chat.visitor_name,
            "department": chat.department_name,
            "time": zone.time(Timestamp(chat.created_at)),
            "lines": lines,
            "link": link,
        });
        let mail = self
            .compose_mail(
                ferrodesk_mail::TemplateKind::ChatTranscript,
                &chat.visitor_name,
                &chat.visitor_email,
                context,
            )
            .await?;
        self.store()
            .outbox()
            .queue_mail(&mail.as_new(), self.now())
            .await?;
        Ok(())
    }

    /// Adds the transcript to the open ticket the signed-in user chose, if
    /// they chose one and it is still theirs and open; answers its id.
    async fn add_to_chosen_ticket(
        &self,
        chat: &ChatRecord,
        requester: &PersonRecord,
        message: &NewMessage<'_>,
    ) -> AppResult<Option<i64>> {
        let Some(ticket_id) = chat.attach_ticket_id else {
            return Ok(None);
        };
        let Some(ticket) = self.store().tickets().get_ticket(ticket_id).await? else {
            return Ok(None);
        };
        if !super::is_open_request_of(&ticket, requester.id) {
            return Ok(None);
        }
        // Answered in the chat, the ticket stays as it was; otherwise the
        // user's words wait for an agent, like any message of theirs.
        let status = if chat.agent_id.is_some() {
            ticket.status
        } else {
            TicketStatus::after_user_message()
        };
        let label = format!("{} <{}>", requester.name, requester.email);
        self.write_status_and_message(
            &ticket,
            (
                TicketActor {
                    id: Some(requester.id),
                    label: &label,
                },
                false,
            ),
            (status, self.now()),
            (Some(message), crate::tickets::MessageCue::Plain),
            &[],
        )
        .await?;
        Ok(Some(ticket.id))
    }

    /// The user a chat's transcript is filed for: the signed-in user who
    /// started it, or whoever has the address (made now if nobody); a
    /// visitor who gave no address is filed under a placeholder one of
    /// their own (the reserved `.invalid` domain, which is never mailed).
    async fn chat_requester(&self, chat: &ChatRecord) -> AppResult<PersonRecord> {
        if let Some(id) = chat.person_id
            && let Some(person) = self.store().people().get_person(id).await?
        {
            return Ok(person);
        }
        let address = if chat.visitor_email.is_empty() {
            format!("chat-{}@{NO_ADDRESS_DOMAIN}", chat.id)
        } else {
            chat.visitor_email.clone()
        };
        let email =
            Email::parse(&address).map_err(|error| AppError::Internal(error.to_string()))?;
        self.person_for_address(&email, &chat.visitor_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_wrote_stays_literal() {
        assert_eq!(
            markdown_literal("**Agent** (10:00):"),
            "\\*\\*Agent\\*\\* \\(10\\:00\\)\\:"
        );
        assert_eq!(
            markdown_literal("[x](javascript:1)"),
            "\\[x\\]\\(javascript\\:1\\)"
        );
        assert_eq!(markdown_literal("plain words"), "plain words");
    }
}
