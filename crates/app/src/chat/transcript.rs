//! An ended chat becomes a ticket: the whole conversation as its first
//! message (channel `chat`), in the chat's department, requested by the
//! visitor as a user (found by address, or made), assigned to the agent
//! who held the chat. A chat an agent answered is saved resolved; one
//! nobody took waits for an agent like any new request.

use ferrodesk_core::{Email, Labels, Subject, TicketStatus, Timestamp, Urgency};
use ferrodesk_store::{NewMessage, NewTicketRow, PersonRecord};

use crate::tickets::create::{Drawn, OpenAttempt};
use crate::{App, AppError, AppResult};

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
        let requester = self
            .chat_requester(chat.person_id, &chat.visitor_email, &chat.visitor_name)
            .await?;
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
        for message in &messages {
            let lines: Vec<String> = message.body.lines().map(markdown_literal).collect();
            body.push_str(&format!(
                "**{}** ({}):  \n{}\n\n",
                markdown_literal(&message.author_name),
                zone.time(Timestamp(message.created_at)),
                lines.join("  \n"),
            ));
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
            attachments: &[],
            inbound_mail: None,
        };
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
        chats
            .set_chat_ticket(chat_id, ticket_id, requester.id)
            .await?;
        self.wake_workers();
        tracing::info!(chat_id, %reference, "chat transcript saved as a ticket");
        Ok(())
    }

    /// The user a chat's transcript is filed for: the signed-in user who
    /// started it, or whoever has the address (made now if nobody).
    async fn chat_requester(
        &self,
        person_id: Option<i64>,
        email: &str,
        name: &str,
    ) -> AppResult<PersonRecord> {
        if let Some(id) = person_id
            && let Some(person) = self.store().people().get_person(id).await?
        {
            return Ok(person);
        }
        let email = Email::parse(email).map_err(|error| AppError::Internal(error.to_string()))?;
        self.person_for_address(&email, name).await
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
