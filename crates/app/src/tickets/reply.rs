//! Replies and notes from agents: checked, stored with their files and
//! the status they leave the ticket in, and mailed (a reply) to the
//! requester and the CCs in the same transaction.

use ferrodesk_core::{Permission, TicketStatus, Timestamp};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{
    AttachmentRecord, MessageRecord, NewAttachment, NewLogEntry, NewMail, NewMessage, TicketActor,
    TicketProperties, TicketRecord, TicketUpdate,
};

use super::{AgentContext, ReplyInput, TicketKey};
use crate::attachments::UploadedFile;
use crate::audit::Caller;
use crate::mail::ComposedMail;
use crate::{Actor, App, AppError, AppResult, FieldErrors, markdown};

/// A message as it was stored, with its files: what a reply answers.
#[derive(Debug, Clone)]
pub struct PostedMessage {
    pub message: MessageRecord,
    pub attachments: Vec<AttachmentRecord>,
    /// The ticket the message went to (a merged reference leads on).
    pub ticket_id: i64,
}

pub(crate) fn new_attachments(files: &[UploadedFile]) -> Vec<NewAttachment<'_>> {
    files
        .iter()
        .map(|file| NewAttachment {
            blob_sha256: &file.sha256,
            file_name: &file.file_name,
            content_type: &file.content_type,
            size: file.size,
        })
        .collect()
}

/// Checks a status an agent picked: hidden ones only with the permission
/// for them.
pub(super) fn permitted_status(
    context: &AgentContext,
    status: TicketStatus,
    errors: &mut FieldErrors,
) -> Option<TicketStatus> {
    let allowed = match status {
        TicketStatus::Spam => context.effective.has(Permission::TicketSpam),
        TicketStatus::Deleted => context.effective.has(Permission::TicketDelete),
        _ => true,
    };
    if !allowed {
        errors.add("status", "You may not put tickets there.");
        return None;
    }
    Some(status)
}

/// The status a message leaves the ticket in.
fn status_after(
    context: &AgentContext,
    current: TicketStatus,
    input: &ReplyInput,
    errors: &mut FieldErrors,
) -> TicketStatus {
    let chosen = match &input.status {
        Some(parsed) => errors.take(parsed),
        None => None,
    };
    match chosen {
        Some(chosen) if chosen != current => {
            if input.is_note && !context.effective.has(Permission::TicketEdit) {
                errors.add("status", "You may not change the status.");
            }
            permitted_status(context, chosen, errors).unwrap_or(current)
        }
        Some(_) => current,
        None if input.is_note || input.status.is_some() => current,
        None => TicketStatus::after_agent_reply(),
    }
}

impl App {
    /// A reply (the requester sees it) or an internal note; answers the
    /// message as stored.
    pub async fn reply_to_ticket(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        input: &ReplyInput,
    ) -> AppResult<PostedMessage> {
        let context = self.agent_context(caller.actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        context.require(if input.is_note {
            Permission::TicketNote
        } else {
            Permission::TicketReply
        })?;
        let mut errors = FieldErrors::new();
        let body = errors.take(&input.body).unwrap_or_default();
        if body.is_empty() && input.attachments.is_empty() && input.body.is_ok() {
            errors.add("body", "Write something first.");
        }
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        let status = status_after(&context, ticket.status, input, &mut errors);
        errors.into_result()?;
        self.refuse_if_overtaken(&ticket, input.seen_message_id)
            .await?;
        // Replies written in the agent interface end with the signature.
        let signature = match (input.is_note, &input.channel) {
            (false, crate::Channel::Agent) => self.signature_for(caller.actor).await?,
            _ => None,
        };
        let signed_body = signature
            .as_deref()
            .map(|signature| crate::signatures::signed(body.as_str(), signature));
        let body = signed_body.as_deref().unwrap_or(body.as_str());
        let html = markdown::render_message(body);
        let outgoing = if input.is_note {
            Vec::new()
        } else {
            let agent_name = agent_name(caller.actor, &context);
            self.reply_mails(&ticket, &agent_name, body, &html).await?
        };
        let mails: Vec<_> = outgoing.iter().map(ComposedMail::as_new).collect();
        let attachments = new_attachments(&input.attachments);
        let message = NewMessage {
            author_id: Some(context.agent_id),
            is_note: input.is_note,
            body_markdown: body,
            body_html: &html,
            channel: input.channel.key(),
            ip: caller.ip,
            attachments: &attachments,
            inbound_mail: input.inbound_mail,
        };
        let now = self.now();
        let message_id = self
            .write_status_and_message(
                &ticket,
                (context.actor(), true),
                (status, now),
                (
                    Some(&message),
                    if input.is_note && crate::notifications::may_mention(body) {
                        MessageCue::Mentions(context.agent_id)
                    } else {
                        MessageCue::Plain
                    },
                ),
                &mails,
            )
            .await?
            .ok_or_else(|| AppError::Internal("a message was stored without an id".into()))?;
        if !mails.is_empty() || input.is_note {
            self.wake_workers();
        }
        self.note_message_address(caller.ip).await?;
        Ok(PostedMessage {
            message: MessageRecord {
                id: message_id,
                author_id: Some(context.agent_id),
                author_name: Some(agent_name(caller.actor, &context)),
                author_is_agent: Some(true),
                is_note: input.is_note,
                body_html: html,
                channel: input.channel.key().to_owned(),
                ip: caller.ip.to_owned(),
                hostname: None,
                created_at: now.millis(),
            },
            attachments: self
                .store()
                .tickets()
                .message_attachments(message_id)
                .await?,
            ticket_id: ticket.id,
        })
    }
}

/// What a written message sets off besides the ticket's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageCue {
    Plain,
    /// A note that may name agents (by this agent): they are told.
    Mentions(i64),
    /// An automatic mail (a bounce, an auto-reply): rules mail nobody
    /// outside the desk back.
    Automatic,
}

impl App {
    /// Stores what one person did to a ticket: the status it is left in
    /// (with its log line when it changed), the message that came with it
    /// and the mail it sends, in one transaction; answers the message's id.
    /// Agents' replies and notes and the help center's messages, resolving
    /// and reopening all write through here.
    pub(crate) async fn write_status_and_message(
        &self,
        ticket: &TicketRecord,
        (actor, by_agent): (TicketActor<'_>, bool),
        (status, now): (TicketStatus, Timestamp),
        (message, cue): (Option<&NewMessage<'_>>, MessageCue),
        mails: &[NewMail<'_>],
    ) -> AppResult<Option<i64>> {
        let log: Vec<NewLogEntry<'_>> = (status != ticket.status)
            .then(|| NewLogEntry {
                field: "status",
                before: Some(ticket.status.key().to_owned()),
                after: Some(status.key().to_owned()),
            })
            .into_iter()
            .collect();
        let properties = TicketProperties {
            status,
            ..properties_of(ticket)
        };
        let update = TicketUpdate {
            message,
            notice: match cue {
                MessageCue::Mentions(agent_id) => Some(crate::notifications::notice(
                    crate::notifications::MENTION,
                    Some(agent_id),
                )),
                MessageCue::Plain | MessageCue::Automatic => None,
            },
            automatic: cue == MessageCue::Automatic,
            // An agent's reply stamps the first response time once.
            agent_replied: by_agent && message.is_some_and(|message| !message.is_note),
            mails,
            ..TicketUpdate::new(&properties, actor, &log)
        };
        Ok(self
            .store()
            .tickets()
            .update_ticket(ticket.id, &update, now)
            .await?)
    }

    /// A conflict when someone wrote since the agent opened the ticket.
    async fn refuse_if_overtaken(
        &self,
        ticket: &TicketRecord,
        seen_message_id: Option<i64>,
    ) -> AppResult<()> {
        let Some(seen) = seen_message_id else {
            return Ok(());
        };
        if self.store().tickets().last_message_id(ticket.id).await? > seen {
            return Err(AppError::Conflict(
                "Someone added to this ticket since you opened it. Read the new message, then send again."
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// A reply goes to the requester and the CCs by mail, each their own
    /// copy, threaded under the ticket's conversation; a note never leaves.
    async fn reply_mails(
        &self,
        ticket: &TicketRecord,
        agent_name: &str,
        body: &str,
        html: &str,
    ) -> AppResult<Vec<ComposedMail>> {
        let mut recipients = vec![(
            ticket.requester_id,
            ticket.requester_name.clone(),
            ticket.requester_email.clone(),
        )];
        recipients.extend(
            self.store()
                .tickets()
                .ticket_ccs(ticket.id)
                .await?
                .into_iter()
                .filter(|cc| cc.id != ticket.requester_id)
                .map(|cc| (cc.id, cc.name, cc.email)),
        );
        let link = self.ticket_link(&ticket.reference, &self.ticket_access_code(ticket));
        let root = self.thread_root(ticket.id, &ticket.reference).await?;
        let mut mails = Vec::with_capacity(recipients.len());
        for (person_id, name, email) in recipients {
            let context = serde_json::json!({
                "name": name,
                "reference": ticket.reference.as_str(),
                "subject": ticket.subject,
                "agent": agent_name,
                "message_text": body,
                "message_html": html,
                "link": link,
            });
            let mail = self
                .compose_mail(TemplateKind::TicketReply, &name, &email, context)
                .await?;
            mails.push(mail.in_thread(
                self.thread_message_id(&ticket.reference, person_id),
                &root,
                None,
            ));
        }
        Ok(mails)
    }

    /// The mail telling the requester their ticket is resolved, threaded
    /// under its conversation; a reply to it opens the ticket again.
    pub(crate) async fn resolved_mails(
        &self,
        ticket: &TicketRecord,
    ) -> AppResult<Vec<ComposedMail>> {
        let requester = self
            .store()
            .people()
            .get_person(ticket.requester_id)
            .await?;
        let Some(requester) = requester.filter(|person| !person.is_agent && !person.is_disabled)
        else {
            return Ok(Vec::new());
        };
        let link = self.ticket_link(&ticket.reference, &self.ticket_access_code(ticket));
        let root = self.thread_root(ticket.id, &ticket.reference).await?;
        let survey = self.survey_for_mail(&ticket.reference).await?;
        let mail = self
            .compose_mail(
                TemplateKind::TicketResolved,
                &requester.name,
                &requester.email,
                serde_json::json!({
                    "name": requester.name,
                    "reference": ticket.reference.as_str(),
                    "subject": ticket.subject,
                    "link": link,
                    "survey": survey,
                }),
            )
            .await?;
        Ok(vec![mail.in_thread(
            self.thread_message_id(&ticket.reference, requester.id),
            &root,
            None,
        )])
    }

    /// Looks up the hostname a message came from, in the background, when
    /// the admin wants hostnames.
    async fn note_message_address(&self, ip: &str) -> AppResult<()> {
        if ip.parse::<std::net::IpAddr>().is_ok()
            && self.settings().await?.login_monitoring.resolve_hostnames
        {
            self.look_up_hostname_later(ip).await?;
        }
        Ok(())
    }
}

/// The name a reply is signed with.
fn agent_name(actor: &Actor, context: &AgentContext) -> String {
    match actor {
        Actor::Agent(agent) => agent.name.clone(),
        _ => context.label.clone(),
    }
}

/// A ticket's properties as they are, to change one or two of them.
fn properties_of(ticket: &TicketRecord) -> TicketProperties<'static> {
    TicketProperties {
        status: ticket.status,
        urgency: ticket.urgency,
        department_id: ticket.department_id,
        agent_id: ticket.agent_id,
        team_id: ticket.team_id,
        priority_id: ticket.priority_id,
        labels: None,
    }
}
