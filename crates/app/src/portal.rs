//! Tickets as help-center users see them: their own (and, for
//! organization managers, their organization's), opening one from the
//! form (guests too, when the admin allows it), replying, resolving and
//! reopening. Users never see notes, agent-only fields or other people's
//! tickets; a ticket they may not reach is "not found".
//!
//! Mailed ticket links carry an access code: an HMAC of the ticket's
//! reference and its access generation under the instance key, so nothing
//! secret is stored, a code fits one ticket only, and raising the
//! generation revokes every code sent so far.

use std::collections::HashMap;
use std::time::Duration;

use ferrodesk_core::{Email, PersonName, TicketStatus};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{
    AttachmentRecord, MessageRecord, NewLogEntry, NewMessage, NewPerson, NewTicket, PersonRecord,
    StoreError, TicketActor, TicketFilter, TicketPage, TicketProperties, TicketRecord,
    TicketUpdate, Visibility,
};

use crate::attachments::{AttachmentDownload, UploadedFile, attachments_by_message};
use crate::audit::Caller;
use crate::departments::{DepartmentNode, department_tree};
use crate::error::parse_keyset_cursor;
use crate::secrets::{same_secret, token_hash};
use crate::ticket_fields::{FieldView, checked_field_values, field_views, values_for};
use crate::tickets::{
    checked_body, checked_subject, looks_like_reference, new_attachments, new_reference,
};
use crate::{Actor, App, AppError, AppResult, FieldErrors, markdown};

/// Rows per page of "my tickets".
pub const PORTAL_PAGE_SIZE: i64 = 25;
/// New tickets one address (IP) may open in an hour, signed in or not.
const TICKETS_PER_IP_PER_HOUR: i64 = 20;
/// New tickets a guest address (mail) may open in an hour; beyond it they
/// are dropped without a word, so the form tells nothing.
const GUEST_TICKETS_PER_EMAIL_PER_HOUR: i64 = 3;
const TICKET_RATE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Whose tickets the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalScope {
    Mine,
    /// The organization's, for its managers.
    Organization,
}

#[derive(Debug, Clone)]
pub struct PortalTicketList {
    pub tickets: Vec<TicketRecord>,
    pub next: Option<String>,
    /// The organization the user manages, if any (for the scope switch).
    pub managed_organization: Option<String>,
}

/// A ticket as a user sees it.
#[derive(Debug, Clone)]
pub struct PortalTicketView {
    pub ticket: TicketRecord,
    /// Replies only, never notes.
    pub messages: Vec<MessageRecord>,
    pub attachments: HashMap<i64, Vec<AttachmentRecord>>,
    /// Only the fields users may see.
    pub fields: Vec<FieldView>,
    /// The code the page was reached with, for its forms and links.
    pub access_code: Option<String>,
}

impl PortalTicketView {
    pub fn attachments_of(&self, message_id: &i64) -> &[AttachmentRecord] {
        self.attachments.get(message_id).map_or(&[], Vec::as_slice)
    }

    pub fn is_resolved(&self) -> bool {
        self.ticket.status == TicketStatus::Resolved.key()
    }
}

/// The new-ticket form as sent.
#[derive(Debug, Clone, Default)]
pub struct PortalTicketInput {
    pub department_id: String,
    pub subject: String,
    pub message: String,
    /// (field id as sent, value) for the fields users fill in.
    pub fields: Vec<(String, String)>,
    /// Guests only.
    pub guest_name: String,
    pub guest_email: String,
    /// A field people never see; bots fill it in.
    pub honeypot: String,
    pub attachments: Vec<UploadedFile>,
}

/// What the form led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalTicketOutcome {
    /// A signed-in user's ticket, by reference.
    Opened(String),
    /// A guest's request: a link is mailed (or, for a bot or a flood,
    /// quietly nothing happened); the page says the same either way.
    Mailed,
}

/// A reply, or resolving and reopening, from the help center.
#[derive(Debug, Clone, Default)]
pub struct PortalReplyInput {
    pub body: String,
    pub attachments: Vec<UploadedFile>,
}

/// Who acts on a ticket in the help center, and how they reached it.
struct PortalViewer {
    person_id: i64,
    label: String,
    by_code: Option<String>,
}

impl PortalViewer {
    fn actor(&self) -> TicketActor<'_> {
        TicketActor {
            id: Some(self.person_id),
            label: &self.label,
        }
    }
}

fn visible_statuses() -> Vec<String> {
    TicketStatus::VISIBLE
        .iter()
        .map(|status| status.key().to_owned())
        .collect()
}

impl App {
    /// The access code of a ticket's mailed links as they stand.
    pub(crate) fn ticket_access_code(&self, ticket: &TicketRecord) -> String {
        self.access_code_for(&ticket.reference, ticket.access_generation)
    }

    fn access_code_for(&self, reference: &str, generation: i64) -> String {
        let message = format!("{reference}:{generation}");
        hex::encode(self.inner.key.sign("ticket-access", message.as_bytes()))
    }

    /// The help-center address of a ticket with its access code.
    pub(crate) fn ticket_link(&self, reference: &str, code: &str) -> String {
        format!("{}/tickets/{reference}?code={code}", self.public_url())
    }

    /// The departments the help center's form offers.
    pub async fn portal_departments(&self) -> AppResult<Vec<DepartmentNode>> {
        let settings = self.settings().await?;
        let nodes = department_tree(&self.store().list_departments().await?);
        Ok(match &settings.help_center.form_departments {
            None => nodes,
            Some(chosen) => nodes
                .into_iter()
                .filter(|node| chosen.contains(&node.id))
                .collect(),
        })
    }

    /// The custom fields users see and fill in.
    pub async fn portal_fields(&self) -> AppResult<Vec<ferrodesk_store::TicketFieldRecord>> {
        Ok(self
            .store()
            .list_ticket_fields()
            .await?
            .into_iter()
            .filter(|field| field.visible_to_users)
            .collect())
    }

    /// The signed-in user, fresh from the store.
    async fn portal_user(&self, actor: &Actor) -> AppResult<PersonRecord> {
        let Actor::User(user) = actor else {
            return Err(AppError::Unauthenticated);
        };
        self.store()
            .get_person(user.person_id)
            .await?
            .filter(|person| !person.is_agent)
            .ok_or(AppError::Unauthenticated)
    }

    /// The organization a user manages, if any.
    async fn managed_organization(&self, user: &PersonRecord) -> AppResult<Option<i64>> {
        let Some(organization_id) = user.organization_id else {
            return Ok(None);
        };
        let is_manager = self
            .store()
            .get_user(user.id)
            .await?
            .is_some_and(|record| record.is_organization_manager);
        Ok(is_manager.then_some(organization_id))
    }

    /// A page of the user's tickets, or of their organization's when they
    /// manage it, newest activity first.
    pub async fn portal_tickets(
        &self,
        actor: &Actor,
        scope: PortalScope,
        after: Option<&str>,
    ) -> AppResult<PortalTicketList> {
        let user = self.portal_user(actor).await?;
        let manager_of = self.managed_organization(&user).await?;
        let managed_organization = match manager_of {
            Some(id) => self
                .store()
                .get_organization(id)
                .await?
                .map(|found| found.name),
            None => None,
        };
        let mut filter = TicketFilter {
            statuses: visible_statuses(),
            ..TicketFilter::default()
        };
        match (scope, manager_of) {
            (PortalScope::Organization, Some(organization_id)) => {
                filter.organization_id = Some(organization_id);
            }
            (PortalScope::Organization, None) => return Err(AppError::Forbidden),
            (PortalScope::Mine, _) => filter.requester_id = Some(user.id),
        }
        let after = parse_keyset_cursor(after)?;
        let mut tickets = self
            .store()
            .list_tickets(
                &Visibility::Everything,
                &filter,
                TicketPage {
                    after,
                    limit: PORTAL_PAGE_SIZE + 1,
                    ..Default::default()
                },
            )
            .await?;
        let next = if tickets.len() > PORTAL_PAGE_SIZE as usize {
            tickets.truncate(PORTAL_PAGE_SIZE as usize);
            tickets
                .last()
                .map(|last| format!("{}.{}", last.updated_at, last.id))
        } else {
            None
        };
        Ok(PortalTicketList {
            tickets,
            next,
            managed_organization,
        })
    }

    /// Finds a ticket for the help center: by a signed-in user on it (the
    /// requester, a CC, or a manager of its organization) or by a valid
    /// access code. Anything else, hidden tickets included, is `NotFound`.
    async fn reachable_ticket(
        &self,
        actor: &Actor,
        reference: &str,
        code: Option<&str>,
    ) -> AppResult<(TicketRecord, PortalViewer)> {
        if !looks_like_reference(reference) {
            return Err(AppError::NotFound);
        }
        let mut ticket = self
            .store()
            .find_ticket(reference)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut code_reference = ticket.reference.clone();
        let mut code_generation = ticket.access_generation;
        if let Some(target) = ticket.merged_into_id {
            ticket = self
                .store()
                .get_ticket(target)
                .await?
                .ok_or(AppError::NotFound)?;
            // A code mailed for the merged ticket still leads to its thread,
            // unless the target's codes were revoked since.
            if code.is_some_and(|code| {
                same_secret(
                    &self.access_code_for(&ticket.reference, ticket.access_generation),
                    code,
                )
            }) {
                code_reference = ticket.reference.clone();
                code_generation = ticket.access_generation;
            }
        }
        if TicketStatus::from_key(&ticket.status).is_none_or(TicketStatus::is_hidden) {
            return Err(AppError::NotFound);
        }
        if let Actor::User(user) = actor
            && let Ok(person) = self.portal_user(actor).await
        {
            let on_ticket = ticket.requester_id == person.id
                || self.store().is_copied(ticket.id, person.id).await?
                || (ticket.organization_id.is_some()
                    && self.managed_organization(&person).await? == ticket.organization_id);
            if on_ticket {
                return Ok((
                    ticket,
                    PortalViewer {
                        person_id: user.person_id,
                        label: format!("{} <{}>", person.name, person.email),
                        by_code: code.map(str::to_owned),
                    },
                ));
            }
        }
        let Some(code) = code else {
            return Err(AppError::NotFound);
        };
        if !same_secret(
            &self.access_code_for(&code_reference, code_generation),
            code,
        ) {
            return Err(AppError::NotFound);
        }
        // Whoever holds the link acts as the requester it was mailed to.
        let viewer = PortalViewer {
            person_id: ticket.requester_id,
            label: format!(
                "{} <{}> (by link)",
                ticket.requester_name, ticket.requester_email
            ),
            by_code: Some(code.to_owned()),
        };
        Ok((ticket, viewer))
    }

    /// A ticket's page for a user: replies, their attachments and the
    /// fields users see.
    pub async fn portal_ticket(
        &self,
        actor: &Actor,
        reference: &str,
        code: Option<&str>,
    ) -> AppResult<PortalTicketView> {
        let (ticket, viewer) = self.reachable_ticket(actor, reference, code).await?;
        let messages = self.store().ticket_messages(ticket.id, false).await?;
        let attachments =
            attachments_by_message(self.store().ticket_attachments(ticket.id, false).await?);
        let fields = field_views(
            self.portal_fields().await?,
            &self.store().ticket_field_values(ticket.id).await?,
        );
        Ok(PortalTicketView {
            ticket,
            messages,
            attachments,
            fields,
            access_code: viewer.by_code,
        })
    }

    /// An attachment of a reply on a ticket the user may reach.
    pub async fn attachment_for_user(
        &self,
        actor: &Actor,
        reference: &str,
        code: Option<&str>,
        attachment_id: i64,
    ) -> AppResult<AttachmentDownload> {
        let (ticket, _) = self.reachable_ticket(actor, reference, code).await?;
        let attachment = self
            .store()
            .find_attachment(attachment_id)
            .await?
            .filter(|attachment| attachment.ticket_id == ticket.id && !attachment.is_note)
            .ok_or(AppError::NotFound)?;
        self.download_of(attachment)
    }

    /// A user's message on their ticket: it goes back to the agents
    /// ("awaiting agent"), reopening it if it was resolved.
    pub async fn portal_reply(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        code: Option<&str>,
        input: &PortalReplyInput,
    ) -> AppResult<()> {
        let (ticket, viewer) = self.reachable_ticket(caller.actor, reference, code).await?;
        let mut errors = FieldErrors::new();
        let body = checked_body(&input.body, !input.attachments.is_empty(), &mut errors);
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        errors.into_result()?;
        let status = TicketStatus::after_user_message();
        let attachments = new_attachments(&input.attachments);
        let html = markdown::render(&body);
        self.write_portal_update(
            &ticket,
            &viewer,
            status,
            Some(&NewMessage {
                author_id: Some(viewer.person_id),
                is_note: false,
                body_markdown: &body,
                body_html: &html,
                channel: "web",
                ip: caller.ip,
                attachments: &attachments,
            }),
        )
        .await
    }

    /// Resolves the ticket (the user is satisfied) or reopens it.
    pub async fn portal_set_resolved(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        code: Option<&str>,
        resolved: bool,
    ) -> AppResult<()> {
        let (ticket, viewer) = self.reachable_ticket(caller.actor, reference, code).await?;
        let status = if resolved {
            TicketStatus::Resolved
        } else {
            TicketStatus::after_user_message()
        };
        self.write_portal_update(&ticket, &viewer, status, None)
            .await
    }

    async fn write_portal_update(
        &self,
        ticket: &TicketRecord,
        viewer: &PortalViewer,
        status: TicketStatus,
        message: Option<&NewMessage<'_>>,
    ) -> AppResult<()> {
        let log: Vec<NewLogEntry<'_>> = if status.key() == ticket.status {
            Vec::new()
        } else {
            vec![NewLogEntry {
                field: "status",
                before: Some(ticket.status.clone()),
                after: Some(status.key().to_owned()),
            }]
        };
        self.store()
            .update_ticket(
                ticket.id,
                &TicketUpdate {
                    properties: &TicketProperties {
                        status: status.key(),
                        urgency: ticket.urgency,
                        department_id: ticket.department_id,
                        agent_id: ticket.agent_id,
                        team_id: ticket.team_id,
                        priority_id: ticket.priority_id,
                        labels: None,
                    },
                    actor: viewer.actor(),
                    log: &log,
                    message,
                    agent_replied: false,
                    field_values: &[],
                    mails: &[],
                },
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// Opens a ticket from the help center's form: as the signed-in user,
    /// or, when the admin allows it, as a guest by mail address (the link
    /// to the ticket is then mailed, never shown).
    pub async fn open_portal_ticket(
        &self,
        caller: &Caller<'_>,
        input: &PortalTicketInput,
    ) -> AppResult<PortalTicketOutcome> {
        let settings = self.settings().await?;
        let signed_in = match caller.actor {
            Actor::User(_) => Some(self.portal_user(caller.actor).await?),
            Actor::Visitor => None,
            Actor::Agent(_) | Actor::System => return Err(AppError::Forbidden),
        };
        if signed_in.is_none() && !settings.help_center.guest_tickets {
            return Err(AppError::Unauthenticated);
        }
        let mut errors = FieldErrors::new();
        let departments = self.portal_departments().await?;
        let department_id = input
            .department_id
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| departments.iter().any(|node| node.id == *id));
        if department_id.is_none() {
            errors.add("department", "Choose what your request is about.");
        }
        let subject = checked_subject(&input.subject, &mut errors);
        let body = checked_body(&input.message, false, &mut errors);
        let fields = self.portal_fields().await?;
        let field_values: Vec<(i64, String)> =
            checked_field_values(&fields, |id| values_for(&input.fields, id), &mut errors)
                .into_iter()
                .filter_map(|(id, value)| Some((id, value?)))
                .collect();
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        let guest = if signed_in.is_none() {
            let name = PersonName::parse(&input.guest_name)
                .map_err(|error| errors.add("name", error.to_string()))
                .ok();
            let email = Email::parse(&input.guest_email)
                .map_err(|error| errors.add("email", error.to_string()))
                .ok();
            if !input.attachments.is_empty() {
                errors.add("attachments", "Sign in to attach files.");
            }
            name.zip(email)
        } else {
            None
        };
        errors.into_result()?;
        let Some(department_id) = department_id else {
            return Err(AppError::invalid("department", "Choose a department."));
        };
        if !input.honeypot.trim().is_empty() {
            tracing::info!(
                ip = caller.ip,
                "help-center ticket form: honeypot filled; dropped"
            );
            return Ok(PortalTicketOutcome::Mailed);
        }
        let now = self.now();
        if !self
            .store()
            .hit_rate_limit(
                &format!("portal-ticket-ip:{}", caller.ip),
                TICKET_RATE_WINDOW,
                TICKETS_PER_IP_PER_HOUR,
                now,
            )
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        let requester = match (&signed_in, &guest) {
            (Some(user), _) => user.clone(),
            (None, Some((name, email))) => {
                if !self
                    .store()
                    .hit_rate_limit(
                        &format!("portal-ticket-email:{}", token_hash(&email.normalized())),
                        TICKET_RATE_WINDOW,
                        GUEST_TICKETS_PER_EMAIL_PER_HOUR,
                        now,
                    )
                    .await?
                {
                    tracing::info!("guest tickets for one address over the limit; dropped");
                    return Ok(PortalTicketOutcome::Mailed);
                }
                match self.person_with_address(email).await? {
                    Some(person) if person.is_agent => {
                        tracing::info!("guest ticket under an agent's address; dropped");
                        return Ok(PortalTicketOutcome::Mailed);
                    }
                    Some(person) => person,
                    None => {
                        self.store()
                            .create_person(
                                &NewPerson {
                                    email: email.as_str(),
                                    email_normalized: &email.normalized(),
                                    name: name.as_str(),
                                    password_hash: None,
                                    is_agent: false,
                                    is_admin: false,
                                    organization_id: None,
                                },
                                now,
                            )
                            .await?
                    }
                }
            }
            (None, None) => return Err(AppError::invalid("email", "Give your address.")),
        };
        let html = markdown::render(&body);
        let attachments = new_attachments(&input.attachments);
        let message = NewMessage {
            author_id: Some(requester.id),
            is_note: false,
            body_markdown: &body,
            body_html: &html,
            channel: "web",
            ip: caller.ip,
            attachments: &attachments,
        };
        for _ in 0..5 {
            let reference = new_reference()?;
            // A guest gets the link by mail, with the ticket, in one
            // transaction; a signed-in user is taken to the ticket.
            let receipt = if signed_in.is_none() {
                let code = self.access_code_for(&reference, 0);
                Some(
                    self.compose_mail(
                        TemplateKind::TicketReceived,
                        &requester.name,
                        &requester.email,
                        serde_json::json!({
                            "name": requester.name,
                            "reference": reference,
                            "subject": subject,
                            "link": self.ticket_link(&reference, &code),
                        }),
                    )
                    .await?,
                )
            } else {
                None
            };
            let mails: Vec<_> = receipt.iter().map(|mail| mail.as_new()).collect();
            let created = self
                .store()
                .create_ticket(
                    &NewTicket {
                        reference: &reference,
                        subject: &subject,
                        status: TicketStatus::after_user_message().key(),
                        urgency: 1,
                        department_id,
                        requester_id: requester.id,
                        organization_id: requester.organization_id,
                        agent_id: None,
                        team_id: None,
                        labels: &[],
                        field_values: &field_values,
                        message: &message,
                        mails: &mails,
                        audit: None,
                    },
                    now,
                )
                .await;
            match created {
                Ok(None) => {
                    return Err(AppError::invalid(
                        "department",
                        "Choose what your request is about.",
                    ));
                }
                Ok(Some(_)) => {
                    if !mails.is_empty() {
                        self.wake_workers();
                    }
                    return Ok(match signed_in {
                        Some(_) => PortalTicketOutcome::Opened(reference),
                        None => PortalTicketOutcome::Mailed,
                    });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Internal("no free ticket reference".to_owned()))
    }

    /// Revokes every access link mailed for a ticket so far (agents with
    /// the edit permission); the next mail carries a new one.
    pub async fn revoke_ticket_links(&self, caller: &Caller<'_>, reference: &str) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller, reference).await?;
        self.store()
            .revoke_ticket_access(ticket.id, context.actor(), self.now())
            .await?;
        Ok(())
    }
}
