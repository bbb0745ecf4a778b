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

use ferrodesk_core::{
    Email, Labels, MessageText, PersonName, Subject, TicketRef, TicketStatus, Urgency,
};
use ferrodesk_mail::TemplateKind;
use ferrodesk_store::{
    AttachmentRecord, MessageRecord, NewMessage, NewTicketRow, PersonRecord, TicketActor,
    TicketFilter, TicketRecord, Visibility,
};

use crate::attachments::{AttachmentDownload, UploadedFile, attachments_by_message};
use crate::audit::Caller;
use crate::departments::{DepartmentNode, department_tree};
use crate::secrets::{same_secret, token_hash};
use crate::ticket_fields::{FieldView, checked_field_values, field_views, values_for};
use crate::tickets::{Channel, Drawn, PageRequest, new_attachments};
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
enum PortalScope {
    Mine,
    /// The organization's, for its managers.
    Organization,
}

/// Which of their tickets a user lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortalStateFilter {
    /// Waiting for either side: new, answered, pending.
    #[default]
    Open,
    /// Resolved or archived.
    Closed,
    All,
}

impl PortalStateFilter {
    pub fn from_key(key: &str) -> PortalStateFilter {
        match key {
            "closed" => PortalStateFilter::Closed,
            "all" => PortalStateFilter::All,
            _ => PortalStateFilter::Open,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            PortalStateFilter::Open => "open",
            PortalStateFilter::Closed => "closed",
            PortalStateFilter::All => "all",
        }
    }

    pub(crate) fn statuses(self) -> Vec<TicketStatus> {
        match self {
            PortalStateFilter::Open => vec![
                TicketStatus::AwaitingAgent,
                TicketStatus::AwaitingUser,
                TicketStatus::Pending,
            ],
            PortalStateFilter::Closed => vec![TicketStatus::Resolved, TicketStatus::Archived],
            PortalStateFilter::All => TicketStatus::VISIBLE.to_vec(),
        }
    }
}

/// The longest subject search the list takes; the rest is ignored.
const MAX_PORTAL_SEARCH_CHARS: usize = 100;

/// What "my requests" lists: whose, which, matching what, from where.
#[derive(Debug, Clone, Default)]
pub struct PortalListQuery {
    pub organization_scope: bool,
    pub state: PortalStateFilter,
    /// Text the subject contains; empty for any.
    pub search: String,
    /// The page's cursor.
    pub after: Option<String>,
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
        self.ticket.status == TicketStatus::Resolved
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

/// A help-center request as checked, before its requester is known.
struct CheckedRequest {
    department_id: i64,
    subject: Subject,
    message: MessageText,
    field_values: Vec<(i64, String)>,
    /// A guest's name and address.
    guest: Option<(PersonName, Email)>,
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

impl App {
    /// The access code of a ticket's mailed links as they stand.
    pub(crate) fn ticket_access_code(&self, ticket: &TicketRecord) -> String {
        self.access_code_for(&ticket.reference, ticket.access_generation)
    }

    pub(crate) fn access_code_for(&self, reference: &TicketRef, generation: i64) -> String {
        let message = format!("{reference}:{generation}");
        hex::encode(self.inner.key.sign("ticket-access", message.as_bytes()))
    }

    /// The help-center address of a ticket with its access code.
    pub(crate) fn ticket_link(&self, reference: &TicketRef, code: &str) -> String {
        format!("{}/tickets/{reference}?code={code}", self.public_url())
    }

    /// The departments the help center's form offers.
    pub async fn portal_departments(&self) -> AppResult<Vec<DepartmentNode>> {
        let settings = self.settings().await?;
        let nodes = department_tree(&self.store().departments().list_departments().await?);
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
            .ticket_fields()
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
            .people()
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
            .directory()
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
        query: &PortalListQuery,
    ) -> AppResult<PortalTicketList> {
        let scope = if query.organization_scope {
            PortalScope::Organization
        } else {
            PortalScope::Mine
        };
        let search: String = query
            .search
            .trim()
            .chars()
            .filter(|character| !character.is_control())
            .take(MAX_PORTAL_SEARCH_CHARS)
            .collect();
        let user = self.portal_user(actor).await?;
        let manager_of = self.managed_organization(&user).await?;
        let managed_organization = match manager_of {
            Some(id) => self
                .store()
                .directory()
                .get_organization(id)
                .await?
                .map(|found| found.name),
            None => None,
        };
        let mut filter = TicketFilter {
            statuses: query.state.statuses(),
            subject_contains: (!search.is_empty()).then_some(search),
            ..TicketFilter::default()
        };
        match (scope, manager_of) {
            (PortalScope::Organization, Some(organization_id)) => {
                filter.organization_id = Some(organization_id);
            }
            (PortalScope::Organization, None) => return Err(AppError::Forbidden),
            (PortalScope::Mine, _) => filter.requester_id = Some(user.id),
        }
        let page = self
            .ticket_page(
                &Visibility::Everything,
                &filter,
                PageRequest {
                    after: query.after.as_deref(),
                    before: None,
                    size: PORTAL_PAGE_SIZE,
                    offset: 0,
                    order: ferrodesk_store::TicketOrder::default(),
                },
            )
            .await?;
        Ok(PortalTicketList {
            tickets: page.tickets,
            next: page.next,
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
        let reference = TicketRef::parse(reference).map_err(|_| AppError::NotFound)?;
        let mut ticket = self
            .store()
            .tickets()
            .find_ticket(&reference)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut code_reference = ticket.reference.clone();
        let mut code_generation = ticket.access_generation;
        if let Some(target) = ticket.merged_into_id {
            ticket = self
                .store()
                .tickets()
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
        if ticket.status.is_hidden() {
            return Err(AppError::NotFound);
        }
        if let Actor::User(user) = actor
            && let Ok(person) = self.portal_user(actor).await
        {
            let on_ticket = ticket.requester_id == person.id
                || self
                    .store()
                    .tickets()
                    .is_copied(ticket.id, person.id)
                    .await?
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
        let messages = self
            .store()
            .tickets()
            .ticket_messages(ticket.id, false)
            .await?;
        let attachments = attachments_by_message(
            self.store()
                .tickets()
                .ticket_attachments(ticket.id, false)
                .await?,
        );
        let fields = field_views(
            self.portal_fields().await?,
            &self
                .store()
                .ticket_fields()
                .ticket_field_values(ticket.id)
                .await?,
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
            .tickets()
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
        let body = errors
            .check("body", MessageText::parse(&input.body))
            .unwrap_or_default();
        if body.is_empty() && input.attachments.is_empty() {
            errors.add("body", "Write something first.");
        }
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        errors.into_result()?;
        let attachments = new_attachments(&input.attachments);
        let html = markdown::render_message(body.as_str());
        self.write_portal_update(
            &ticket,
            &viewer,
            TicketStatus::after_user_message(),
            Some(&NewMessage {
                author_id: Some(viewer.person_id),
                is_note: false,
                body_markdown: body.as_str(),
                body_html: &html,
                channel: Channel::HelpCenter.key(),
                ip: caller.ip,
                attachments: &attachments,
                inbound_mail: None,
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
        // The agents on the ticket hear of a user's message through the
        // rules (the default trigger "Notify agents of customers'
        // replies").
        self.write_status_and_message(
            ticket,
            (viewer.actor(), false),
            (status, self.now()),
            (message, crate::tickets::MessageCue::Plain),
            &[],
        )
        .await?;
        Ok(())
    }

    /// Who may use the form: a signed-in user, or a visitor when the admin
    /// lets guests open tickets (`None`).
    async fn portal_requester(&self, actor: &Actor) -> AppResult<Option<PersonRecord>> {
        match actor {
            Actor::User(_) => Ok(Some(self.portal_user(actor).await?)),
            Actor::Visitor if self.settings().await?.help_center.guest_tickets => Ok(None),
            Actor::Visitor => Err(AppError::Unauthenticated),
            Actor::Agent(_) | Actor::System => Err(AppError::Forbidden),
        }
    }

    /// The form checked: what every request needs, and a guest's name and
    /// address.
    async fn checked_portal_form(
        &self,
        input: &PortalTicketInput,
        is_guest: bool,
    ) -> AppResult<CheckedRequest> {
        let mut errors = FieldErrors::new();
        let departments = self.portal_departments().await?;
        let department_id = match input.department_id.trim() {
            "" if departments.len() == 1 => departments.first().map(|node| node.id),
            text => text
                .parse::<i64>()
                .ok()
                .filter(|id| departments.iter().any(|node| node.id == *id)),
        };
        if department_id.is_none() {
            errors.add("department", "Choose what your request is about.");
        }
        let subject = errors.check("subject", Subject::parse(&input.subject));
        let message = errors.check("body", MessageText::parse(&input.message));
        if message.as_ref().is_some_and(MessageText::is_empty) {
            errors.add("body", "Write something first.");
        }
        let fields = self.portal_fields().await?;
        let field_values: Vec<(i64, String)> =
            checked_field_values(&fields, |id| values_for(&input.fields, id), &mut errors)
                .into_iter()
                .filter_map(|(id, value)| Some((id, value?)))
                .collect();
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        let guest = if is_guest {
            let name = errors.check("name", PersonName::parse(&input.guest_name));
            let email = errors.check("email", Email::parse(&input.guest_email));
            if !input.attachments.is_empty() {
                errors.add("attachments", "Sign in to attach files.");
            }
            name.zip(email)
        } else {
            None
        };
        errors.into_result()?;
        let (Some(department_id), Some(subject), Some(message)) = (department_id, subject, message)
        else {
            return Err(AppError::invalid("department", "Choose a department."));
        };
        Ok(CheckedRequest {
            department_id,
            subject,
            message,
            field_values,
            guest,
        })
    }

    /// A guest's requester: whoever has the address (never an agent), or a
    /// new user; `None` when the request is to be dropped without a word
    /// (an agent's address, or too many requests from one address).
    async fn guest_requester(
        &self,
        name: &PersonName,
        email: &Email,
    ) -> AppResult<Option<PersonRecord>> {
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("portal-ticket-email:{}", token_hash(&email.normalized())),
                TICKET_RATE_WINDOW,
                GUEST_TICKETS_PER_EMAIL_PER_HOUR,
                self.now(),
            )
            .await?
        {
            tracing::info!("guest tickets for one address over the limit; dropped");
            return Ok(None);
        }
        let person = self.person_for_address(email, name.as_str()).await?;
        if person.is_agent {
            tracing::info!("guest ticket under an agent's address; dropped");
            return Ok(None);
        }
        Ok(Some(person))
    }

    /// Opens a ticket from the help center's form: as the signed-in user,
    /// or, when the admin allows it, as a guest by mail address (the link
    /// to the ticket is then mailed, never shown).
    pub async fn open_portal_ticket(
        &self,
        caller: &Caller<'_>,
        input: &PortalTicketInput,
    ) -> AppResult<PortalTicketOutcome> {
        let signed_in = self.portal_requester(caller.actor).await?;
        let checked = self.checked_portal_form(input, signed_in.is_none()).await?;
        if !input.honeypot.trim().is_empty() {
            tracing::info!(
                ip = caller.ip,
                "help-center ticket form: honeypot filled; dropped"
            );
            return Ok(PortalTicketOutcome::Mailed);
        }
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("portal-ticket-ip:{}", caller.ip),
                TICKET_RATE_WINDOW,
                TICKETS_PER_IP_PER_HOUR,
                self.now(),
            )
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        let requester = match (&signed_in, &checked.guest) {
            (Some(user), _) => user.clone(),
            (None, Some((name, email))) => match self.guest_requester(name, email).await? {
                Some(person) => person,
                None => return Ok(PortalTicketOutcome::Mailed),
            },
            (None, None) => return Err(AppError::invalid("email", "Give your address.")),
        };
        // The receipt with the ticket's link (a guest's only way back to
        // it) is the rules' work: the default trigger "Receipt to users
        // who open a ticket".
        let reference = self
            .write_portal_ticket(caller, input, &checked, &requester)
            .await?;
        Ok(match signed_in {
            Some(_) => PortalTicketOutcome::Opened(reference.to_string()),
            None => PortalTicketOutcome::Mailed,
        })
    }

    /// Writes the request under a fresh reference.
    async fn write_portal_ticket(
        &self,
        caller: &Caller<'_>,
        input: &PortalTicketInput,
        checked: &CheckedRequest,
        requester: &PersonRecord,
    ) -> AppResult<TicketRef> {
        let html = markdown::render_message(checked.message.as_str());
        let attachments = new_attachments(&input.attachments);
        let message = NewMessage {
            author_id: Some(requester.id),
            is_note: false,
            body_markdown: checked.message.as_str(),
            body_html: &html,
            channel: Channel::HelpCenter.key(),
            ip: caller.ip,
            attachments: &attachments,
            inbound_mail: None,
        };
        let no_labels = Labels::default();
        let (message, no_labels) = (&message, &no_labels);
        let opened = self
            .open_with_fresh_reference(|reference| {
                Box::pin(async move {
                    let row = NewTicketRow {
                        reference: &reference,
                        subject: checked.subject.as_str(),
                        status: TicketStatus::after_user_message(),
                        urgency: Urgency::LOWEST,
                        department_id: checked.department_id,
                        requester_id: requester.id,
                        organization_id: requester.organization_id,
                        agent_id: None,
                        team_id: None,
                        labels: no_labels,
                        field_values: &checked.field_values,
                        message,
                        mails: &[],
                        audit: None,
                        actor_id: Some(requester.id),
                        automatic: false,
                    };
                    Drawn::from_store(self.store().tickets().create_ticket(&row, self.now()).await)
                })
            })
            .await?;
        let Some((_, reference)) = opened else {
            return Err(AppError::invalid(
                "department",
                "Choose what your request is about.",
            ));
        };
        Ok(reference)
    }

    /// The receipt of a new ticket, threaded under the requester's own
    /// message (`answering`, a bracketed Message-ID) when it came by mail.
    pub(crate) async fn receipt_for(
        &self,
        requester: &PersonRecord,
        reference: &TicketRef,
        subject: &str,
        answering: Option<&str>,
    ) -> AppResult<crate::mail::ComposedMail> {
        let code = self.access_code_for(reference, 0);
        let mail = self
            .compose_mail(
                TemplateKind::TicketReceived,
                &requester.name,
                &requester.email,
                serde_json::json!({
                    "name": requester.name,
                    "reference": reference.as_str(),
                    "subject": subject,
                    "link": self.ticket_link(reference, &code),
                }),
            )
            .await?;
        let root = answering.map_or_else(|| self.thread_root_id(reference), str::to_owned);
        Ok(mail.in_thread(
            self.thread_message_id(reference, requester.id),
            &root,
            answering,
        ))
    }

    /// Revokes every access link mailed for a ticket so far (agents with
    /// the edit permission); the next mail carries a new one.
    pub async fn revoke_ticket_links(
        &self,
        caller: &Caller<'_>,
        key: &crate::TicketKey,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        self.store()
            .tickets()
            .revoke_ticket_access(ticket.id, context.actor(), self.now())
            .await?;
        Ok(())
    }
}
