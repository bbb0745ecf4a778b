//! Where a received message goes. In order:
//!
//! 1. A message this helpdesk sent itself (its own signed Message-ID), or
//!    one from an address the helpdesk receives at, is a loop: refused.
//! 2. A bounce goes to the ticket whose mail it returns, as a note.
//! 3. Too many messages from one sender, or to one account, in an hour:
//!    refused (a flood, or two robots talking).
//! 4. A signed token in In-Reply-To or References (or in the plus-address
//!    of a recipient, when the admin gives ticket mails a `Reply-To` like
//!    `help+fd.…@example.org`) names a ticket and the person the mail went
//!    to. From that person: their reply (an agent's
//!    reply or note, with the agent's permissions). From someone else on
//!    the ticket (requester or CC): their reply. From an agent it was not
//!    sent to: refused, since a forged From: must never speak for an
//!    agent.
//! 5. Without a token, a reference in the subject counts only when the
//!    sender is on that ticket as its requester or a CC; agents always
//!    need the token.
//! 6. Anything else opens a new ticket for the sender, created as a user
//!    when new unless registration is closed.

use ferrodesk_core::{Email, TicketRef, TicketStatus};
use ferrodesk_mail::inbound::InboundMessage;
use ferrodesk_store::{InboundMailRecord, PersonRecord, TicketRecord};

use super::threading::{ThreadToken, token_of_plus_address};
use crate::{App, AppError, AppResult, RegistrationMode, TicketKey};

const HOUR: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// What a message becomes.
#[derive(Debug, Clone)]
pub(super) enum Route {
    Reject(String),
    /// A copy of a message already stored on this ticket.
    Duplicate(i64),
    NewTicket {
        requester: PersonRecord,
    },
    UserReply {
        ticket: TicketRecord,
        person: PersonRecord,
    },
    AgentReply {
        ticket: TicketRecord,
        agent: PersonRecord,
    },
    /// A bounce or an automatic reply, kept on the ticket as a note.
    Note {
        ticket: TicketRecord,
        author: Option<PersonRecord>,
        heading: &'static str,
    },
}

fn reject(reason: &str) -> AppResult<Route> {
    Ok(Route::Reject(reason.to_owned()))
}

impl App {
    pub(super) async fn route_mail(
        &self,
        record: &InboundMailRecord,
        mail: &InboundMessage,
    ) -> AppResult<Route> {
        if let Some(own) = mail.message_id.as_deref()
            && self.verify_thread_id(own).is_some()
        {
            return reject("This helpdesk sent the message itself (a mail loop).");
        }
        if let Some(bounce) = &mail.bounce {
            let ticket = self
                .ticket_of_tokens(bounce.original_message_ids.iter().map(String::as_str))
                .await?
                .or(self.ticket_of_tokens(mail.referenced_ids()).await?);
            return match ticket {
                Some((ticket, _)) => Ok(Route::Note {
                    ticket,
                    author: None,
                    heading: "Delivery failed",
                }),
                None => reject("A bounce for mail this helpdesk did not send."),
            };
        }
        let Some(from) = &mail.from else {
            return reject("The message has no sender address.");
        };
        let Ok(sender) = Email::parse(&from.address) else {
            return reject("The sender's address is not a valid address.");
        };
        if self.is_our_address(&sender).await? {
            return reject(
                "The message comes from an address this helpdesk receives at (a mail loop).",
            );
        }
        if let Some(reason) = self.flood_refusal(record, &sender).await? {
            return Ok(Route::Reject(reason));
        }
        if !mail.message_id.as_deref().unwrap_or("").is_empty()
            && let Some(ticket_id) = self
                .store()
                .inbound_mail()
                .ticket_of_earlier_copy(record.id, &record.message_id, &record.sender)
                .await?
        {
            return Ok(Route::Duplicate(ticket_id));
        }
        let person = self.person_with_address(&sender).await?;
        if let Some(route) = self.threaded_route(mail, person.as_ref()).await? {
            return Ok(route);
        }
        match person {
            Some(person) if person.is_agent => reject(
                "Mail from an agent's address opens no ticket; agents open tickets in the agent interface.",
            ),
            Some(person) if person.is_disabled => reject("The sender's account is disabled."),
            Some(person) => Ok(Route::NewTicket { requester: person }),
            None if self.settings().await?.help_center.registration == RegistrationMode::Closed => {
                reject("Unknown sender, and registration is closed.")
            }
            None => {
                let name = from
                    .name
                    .clone()
                    .filter(|name| ferrodesk_core::PersonName::parse(name).is_ok())
                    .unwrap_or_else(|| sender.as_str().split('@').next().unwrap_or("").to_owned());
                let name = ferrodesk_core::PersonName::parse(&name)
                    .map(|name| name.as_str().to_owned())
                    .unwrap_or_else(|_| sender.as_str().to_owned());
                Ok(Route::NewTicket {
                    requester: self.person_for_address(&sender, &name).await?,
                })
            }
        }
    }

    /// The route of a message that belongs to a ticket, by its tokens or
    /// its subject; `None` for a new ticket.
    async fn threaded_route(
        &self,
        mail: &InboundMessage,
        sender: Option<&PersonRecord>,
    ) -> AppResult<Option<Route>> {
        // The thread headers first, then a Reply-To plus-address the reply
        // went to.
        let addressed: Vec<String> = mail
            .to
            .iter()
            .chain(&mail.cc)
            .filter_map(|recipient| token_of_plus_address(&recipient.address))
            .collect();
        let ids = mail
            .referenced_ids()
            .chain(addressed.iter().map(String::as_str));
        if let Some((ticket, token)) = self.ticket_of_tokens(ids).await? {
            if !accepts_mail(&ticket) {
                return Ok(Some(Route::Reject(
                    "The ticket it answers is deleted or marked as spam.".to_owned(),
                )));
            }
            let Some(sender) = sender else {
                // A stranger answering a forwarded notification: their own
                // ticket.
                return Ok(None);
            };
            if mail.automatic.is_some() {
                return Ok(Some(Route::Note {
                    ticket,
                    author: Some(sender.clone()),
                    heading: "Automatic reply",
                }));
            }
            if sender.id == token.person_id {
                return Ok(Some(if sender.is_agent {
                    Route::AgentReply {
                        ticket,
                        agent: sender.clone(),
                    }
                } else {
                    Route::UserReply {
                        ticket,
                        person: sender.clone(),
                    }
                }));
            }
            if sender.is_agent {
                return Ok(Some(Route::Reject(
                    "An agent's address without the agent's own reply token: not taken as the agent's reply."
                        .to_owned(),
                )));
            }
            if self.is_participant(&ticket, sender.id).await? {
                return Ok(Some(Route::UserReply {
                    ticket,
                    person: sender.clone(),
                }));
            }
            return Ok(None);
        }
        // No token: the reference in the subject, for people on the ticket.
        let (Some(reference), Some(sender)) = (reference_in_subject(&mail.subject), sender) else {
            return Ok(None);
        };
        let Ok(ticket) = self.ticket_by_key(&TicketKey::Reference(reference)).await else {
            return Ok(None);
        };
        if sender.is_agent {
            return Ok(Some(Route::Reject(
                "An agent's reply needs the reply token of the mail it answers; a reference in the subject is not enough."
                    .to_owned(),
            )));
        }
        if !accepts_mail(&ticket) || !self.is_participant(&ticket, sender.id).await? {
            return Ok(None);
        }
        Ok(Some(if mail.automatic.is_some() {
            Route::Note {
                ticket,
                author: Some(sender.clone()),
                heading: "Automatic reply",
            }
        } else {
            Route::UserReply {
                ticket,
                person: sender.clone(),
            }
        }))
    }

    /// The first ticket a valid token among `ids` names, with the token.
    async fn ticket_of_tokens<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> AppResult<Option<(TicketRecord, ThreadToken)>> {
        for id in ids.take(60) {
            let Some(token) = self.verify_thread_id(id) else {
                continue;
            };
            match self
                .ticket_by_key(&TicketKey::Reference(token.reference.clone()))
                .await
            {
                Ok(ticket) => return Ok(Some((ticket, token))),
                Err(AppError::NotFound) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }

    /// The requester or a CC of the ticket.
    async fn is_participant(&self, ticket: &TicketRecord, person_id: i64) -> AppResult<bool> {
        Ok(ticket.requester_id == person_id
            || self
                .store()
                .tickets()
                .is_copied(ticket.id, person_id)
                .await?)
    }

    /// Whether mail comes from one of the addresses the helpdesk receives
    /// at.
    pub(super) async fn is_our_address(&self, sender: &Email) -> AppResult<bool> {
        Ok(self
            .store()
            .email_accounts()
            .email_account_by_address(&sender.normalized())
            .await?
            .is_some())
    }

    /// Why a message is refused as part of a flood, if it is.
    async fn flood_refusal(
        &self,
        record: &InboundMailRecord,
        sender: &Email,
    ) -> AppResult<Option<String>> {
        let limits = self.settings().await?.mail_in.clone();
        let since = self.now().minus(HOUR);
        let received = self.store().inbound_mail();
        let from_sender = received
            .count_recent_inbound(&record.sender, None, since)
            .await?;
        if from_sender > i64::from(limits.mails_per_sender_per_hour) {
            return Ok(Some(format!(
                "More than {} messages from {} in an hour.",
                limits.mails_per_sender_per_hour,
                sender.as_str()
            )));
        }
        let to_account = received
            .count_recent_inbound("", record.account_id, since)
            .await?;
        if to_account > i64::from(limits.mails_per_account_per_hour) {
            return Ok(Some(format!(
                "More than {} messages to this account in an hour.",
                limits.mails_per_account_per_hour
            )));
        }
        Ok(None)
    }
}

/// Whether a ticket still takes mail.
fn accepts_mail(ticket: &TicketRecord) -> bool {
    !matches!(ticket.status, TicketStatus::Spam | TicketStatus::Deleted)
}

/// A ticket reference in a subject, as the helpdesk's mails write it
/// (`[#ABCD-EFGH]`) or bare.
pub(super) fn reference_in_subject(subject: &str) -> Option<TicketRef> {
    subject
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '-'))
        .filter(|word| word.len() == 9)
        .find_map(|word| TicketRef::parse(word).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_subjects() {
        assert_eq!(
            reference_in_subject("Re: [#ABCD-EFGH] Printer jams").map(|found| found.to_string()),
            Some("ABCD-EFGH".to_owned())
        );
        assert_eq!(reference_in_subject("Printer jams on page two"), None);
        assert_eq!(reference_in_subject("Order 1234-5678-9012"), None);
    }
}
