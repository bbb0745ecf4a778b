//! Opening tickets: the agent's "new ticket" and the API's creation, and
//! what the help center's form shares with them: a fresh reference drawn
//! until one is free, the requester found or made by address, and the
//! first message.

use ferrodesk_core::{Email, Labels, MessageText, Subject, TicketRef, TicketStatus, Urgency};
use ferrodesk_store::{
    FieldValueRecord, NewMessage, NewPerson, NewTicketRow, PersonRecord, StoreError, StoreResult,
    TicketFieldRecord,
};

use super::{AgentContext, NewTicket, Requester, TicketState};
use crate::api_keys::ApiCaller;
use crate::audit::{Audit, Caller};
use crate::secrets::random_bytes;
use crate::ticket_fields::{checked_field_values, field_views, values_for};
use crate::{App, AppError, AppResult, FieldErrors};

/// How often a reference is drawn before giving up; a clash of random
/// references is rare already.
const REFERENCE_DRAWS: usize = 5;

/// What one try at opening a ticket under a reference came to.
pub(crate) enum Drawn {
    Opened(i64),
    /// The department is gone (checked by the insert itself).
    NoDepartment,
    /// The reference is taken: draw another.
    Taken,
}

impl Drawn {
    pub(crate) fn from_store(result: StoreResult<Option<i64>>) -> AppResult<Drawn> {
        match result {
            Ok(Some(id)) => Ok(Drawn::Opened(id)),
            Ok(None) => Ok(Drawn::NoDepartment),
            Err(StoreError::Conflict(_)) => Ok(Drawn::Taken),
            Err(other) => Err(other.into()),
        }
    }
}

/// One try at opening a ticket under a reference (boxed: the tries of the
/// agent's form and of the help center's differ, and a plain async
/// closure's future cannot be proven `Send` for every borrow).
pub(crate) type OpenAttempt<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<Drawn>> + Send + 'a>>;

pub(crate) fn new_reference() -> AppResult<TicketRef> {
    Ok(TicketRef::from_random(random_bytes::<8>()?))
}

/// The new ticket parsed and checked against the database, ready to
/// write.
struct CheckedTicket {
    subject: Subject,
    message: MessageText,
    urgency: Urgency,
    labels: Labels,
    requester: PersonRecord,
    department_id: i64,
    fields: Vec<TicketFieldRecord>,
    field_values: Vec<(i64, String)>,
}

impl App {
    /// Opens a ticket under a fresh reference: `open` is tried with
    /// references drawn until one is free. `None` when the department is
    /// gone.
    pub(crate) async fn open_with_fresh_reference<'a>(
        &self,
        mut open: impl FnMut(TicketRef) -> OpenAttempt<'a>,
    ) -> AppResult<Option<(i64, TicketRef)>> {
        for _ in 0..REFERENCE_DRAWS {
            let reference = new_reference()?;
            match open(reference.clone()).await? {
                Drawn::Opened(id) => return Ok(Some((id, reference))),
                Drawn::NoDepartment => return Ok(None),
                Drawn::Taken => continue,
            }
        }
        Err(AppError::Internal("no free ticket reference".to_owned()))
    }

    /// Whoever has this address, as any of theirs.
    pub(crate) async fn person_with_address(
        &self,
        email: &Email,
    ) -> AppResult<Option<PersonRecord>> {
        Ok(self
            .store()
            .people()
            .person_by_any_email(&email.normalized())
            .await?)
    }

    /// Whoever has this address, or a new user with it under `name`: how
    /// requesters and CCs come to be.
    pub(crate) async fn person_for_address(
        &self,
        email: &Email,
        name: &str,
    ) -> AppResult<PersonRecord> {
        if let Some(person) = self.person_with_address(email).await? {
            return Ok(person);
        }
        let created = self
            .store()
            .people()
            .create_person(
                &NewPerson {
                    email: email.as_str(),
                    email_normalized: &email.normalized(),
                    name,
                    password_hash: None,
                    is_agent: false,
                    is_admin: false,
                    organization_id: None,
                },
                self.now(),
            )
            .await;
        match created {
            // Another request made the user meanwhile (two mails or API
            // calls from a new address at once): theirs is the one.
            Err(StoreError::Conflict(what)) => match self.person_with_address(email).await? {
                Some(person) if !person.is_agent => Ok(person),
                _ => Err(StoreError::Conflict(what).into()),
            },
            created => Ok(created?),
        }
    }

    /// Opens a ticket for a user (found by id or address, or made if new);
    /// the first message is what the user asked.
    pub async fn create_ticket_for_user(
        &self,
        caller: &Caller<'_>,
        input: &NewTicket,
    ) -> AppResult<TicketState> {
        self.open_ticket_for_user(caller, input, None).await
    }

    /// The same through an API key: the request's audit entry is written
    /// with the ticket, in its transaction.
    pub async fn create_ticket_through_api(
        &self,
        caller: &ApiCaller,
        ip: &str,
        request: &str,
        input: &NewTicket,
    ) -> AppResult<TicketState> {
        let audit = caller.request_audit(ip, request, 201);
        self.open_ticket_for_user(&Caller::new(&caller.actor, ip), input, Some(&audit))
            .await
    }

    async fn open_ticket_for_user(
        &self,
        caller: &Caller<'_>,
        input: &NewTicket,
        audit: Option<&Audit>,
    ) -> AppResult<TicketState> {
        let context = self.agent_context(caller.actor).await?;
        let checked = self.checked_new_ticket(&context, input).await?;
        let body = checked.message.as_str();
        let html = crate::markdown::render_message(body);
        let message = NewMessage {
            author_id: Some(checked.requester.id),
            is_note: false,
            body_markdown: body,
            body_html: &html,
            channel: input.channel.key(),
            ip: caller.ip,
            attachments: &[],
            inbound_mail: None,
        };
        let audit_entry = audit.map(Audit::entry);
        let (checked, message, audit_entry) = (&checked, &message, &audit_entry);
        let opened = self
            .open_with_fresh_reference(|reference| {
                Box::pin(async move {
                    let receipt = match input.send_receipt {
                        true => Some(
                            self.receipt_for(
                                &checked.requester,
                                &reference,
                                checked.subject.as_str(),
                                None,
                            )
                            .await?,
                        ),
                        false => None,
                    };
                    let mails: Vec<_> = receipt.iter().map(|mail| mail.as_new()).collect();
                    let row = NewTicketRow {
                        reference: &reference,
                        subject: checked.subject.as_str(),
                        status: TicketStatus::after_user_message(),
                        urgency: checked.urgency,
                        department_id: checked.department_id,
                        requester_id: checked.requester.id,
                        organization_id: checked.requester.organization_id,
                        agent_id: None,
                        team_id: None,
                        labels: &checked.labels,
                        field_values: &checked.field_values,
                        message,
                        mails: &mails,
                        audit: audit_entry.as_ref(),
                        actor_id: Some(context.agent_id),
                        automatic: false,
                    };
                    Drawn::from_store(self.store().tickets().create_ticket(&row, self.now()).await)
                })
            })
            .await?;
        let Some((id, _)) = opened else {
            return Err(AppError::unresolved(
                "department",
                "That department does not exist.",
            ));
        };
        tracing::info!(agent_id = context.agent_id, "ticket opened for a user");
        if input.send_receipt {
            self.wake_workers();
        }
        // Read back for the names the row points to, once the write is done.
        let ticket = self
            .store()
            .tickets()
            .get_ticket(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let values: Vec<FieldValueRecord> = checked
            .field_values
            .iter()
            .cloned()
            .map(|(field_id, value)| FieldValueRecord { field_id, value })
            .collect();
        Ok(TicketState {
            ticket,
            labels: checked.labels.clone(),
            fields: field_views(checked.fields.clone(), &values),
        })
    }

    /// What a new ticket needs the database for: a department the agent
    /// may file into (the default one when none was chosen), a requester
    /// who is a user (made now when the address is new), and field values
    /// that fit their fields.
    async fn checked_new_ticket(
        &self,
        context: &AgentContext,
        input: &NewTicket,
    ) -> AppResult<CheckedTicket> {
        let mut errors = FieldErrors::new();
        let subject = errors.take(&input.subject);
        let message = errors.take(&input.message);
        if message.as_ref().is_some_and(MessageText::is_empty) {
            errors.add("body", "Write something first.");
        }
        let urgency = errors.take(&input.urgency);
        let labels = errors.take(&input.labels);
        let department_id = match errors.take(&input.department_id) {
            Some(Some(id)) => Some(id),
            Some(None) => self.default_department().await?,
            None => None,
        };
        match department_id {
            None if input.department_id.is_err() => {}
            None => errors.add("department", "Choose a department."),
            // Admins reach every department id; that the department exists
            // is checked when the ticket is written.
            Some(id) if context.effective.department_access(id).is_none() => {
                errors.add("department", "You have no access to that department.");
            }
            Some(_) => {}
        }
        let fields = self.store().ticket_fields().list_ticket_fields().await?;
        let field_values: Vec<(i64, String)> = checked_field_values(
            &fields,
            |id| values_for(input.fields.pairs(), id),
            &mut errors,
        )
        .into_iter()
        .filter_map(|(id, value)| Some((id, value?)))
        .collect();
        let requester = match errors.take(&input.requester) {
            Some(requester) => self.checked_requester(&requester, &mut errors).await?,
            None => None,
        };
        errors.into_result()?;
        let (Some(subject), Some(message), Some(urgency), Some(labels)) =
            (subject, message, urgency, labels)
        else {
            return Err(AppError::Internal("a parsed value went missing".into()));
        };
        let (Some(requester), Some(department_id)) = (requester, department_id) else {
            return Err(AppError::invalid(
                "requester_email",
                "Give the user's email.",
            ));
        };
        let requester = match requester {
            Ok(person) => person,
            Err((email, name)) => self.person_for_address(&email, &name).await?,
        };
        Ok(CheckedTicket {
            subject,
            message,
            urgency,
            labels,
            requester,
            department_id,
            fields,
            field_values,
        })
    }

    /// The requester: an existing user, or an address with the name a new
    /// user would get (`Err`, made once everything else is checked).
    async fn checked_requester(
        &self,
        requester: &Requester,
        errors: &mut FieldErrors,
    ) -> AppResult<Option<Result<PersonRecord, (Email, String)>>> {
        let existing = match requester {
            Requester::Existing(id) => {
                let person = self
                    .store()
                    .people()
                    .get_person(*id)
                    .await?
                    .filter(|person| !person.is_agent);
                if person.is_none() {
                    errors.add_unresolved("requester_email", "No user has that id.");
                    return Ok(None);
                }
                person
            }
            Requester::Address { email, .. } => self.person_with_address(email).await?,
        };
        match (existing, requester) {
            (Some(person), _) if person.is_agent => {
                errors.add(
                    "requester_email",
                    "That address belongs to an agent, not a user.",
                );
                Ok(None)
            }
            (Some(person), _) => Ok(Some(Ok(person))),
            (None, Requester::Address { email, name }) => match name {
                Some(name) => Ok(Some(Err((email.clone(), name.as_str().to_owned())))),
                None => {
                    // Whether a name is needed depends on who exists: not
                    // a rule of the request's shape.
                    errors.add_unresolved("requester_name", "Give the new user's name.");
                    Ok(None)
                }
            },
            (None, Requester::Existing(_)) => Ok(None),
        }
    }
}
