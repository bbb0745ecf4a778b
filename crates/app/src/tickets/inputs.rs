//! What the use cases take: typed inputs the HTML forms and the JSON API
//! both parse into, so a range or a rule is checked once, where the text
//! is parsed. What needs the database (a department the agent may use,
//! whether a requester exists, custom field values against their
//! definitions) is checked by the use case.
//!
//! A value that did not parse travels as its error (`Parsed`), so the use
//! case can answer every problem of a form at once: those of parsing and
//! its own.

use ferrodesk_core::{Email, Labels, MessageText, PersonName, Subject, TicketStatus, Urgency};

use crate::{FieldErrors, UploadedFile};

/// A value as a form or request gave it: parsed, or why not.
pub type Parsed<T> = Result<T, FieldErrors>;

/// Parses with `parse`, naming `field` in the error.
pub fn parsed<T, E: std::fmt::Display>(field: &'static str, parse: Result<T, E>) -> Parsed<T> {
    parse.map_err(|error| {
        let mut errors = FieldErrors::new();
        errors.add(field, error.to_string());
        errors
    })
}

/// Where a message came in, as the thread shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    /// The agent interface.
    #[default]
    Agent,
    /// The help center's forms.
    HelpCenter,
    Api,
    Email,
}

impl Channel {
    pub fn key(self) -> &'static str {
        match self {
            Channel::Agent => "agent",
            Channel::HelpCenter => "web",
            Channel::Api => "api",
            Channel::Email => "email",
        }
    }
}

/// Who a new ticket is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// An existing user, by id.
    Existing(i64),
    /// Whoever has this address, or a new user with the name (which a new
    /// user needs).
    Address {
        email: Email,
        name: Option<PersonName>,
    },
}

/// Custom field values as sent: (field id as sent, value) pairs, a field
/// with several choices once per choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValues {
    /// Every field, as a form sends them: a field not named is empty.
    Complete(Vec<(String, String)>),
    /// Only the fields named change (the API); the others keep theirs.
    Named(Vec<(String, String)>),
}

impl Default for FieldValues {
    fn default() -> FieldValues {
        FieldValues::Named(Vec::new())
    }
}

impl FieldValues {
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        match self {
            FieldValues::Complete(pairs) | FieldValues::Named(pairs) => pairs,
        }
    }

    /// Whether a field keeps its value because it was not named.
    pub(crate) fn keeps(&self, field_id: i64) -> bool {
        match self {
            FieldValues::Complete(_) => false,
            FieldValues::Named(pairs) => {
                let id = field_id.to_string();
                !pairs.iter().any(|(sent, _)| *sent == id)
            }
        }
    }
}

/// A ticket an agent (or an API key) opens for a user.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub requester: Parsed<Requester>,
    pub subject: Parsed<Subject>,
    /// The first message, what the user asked; not empty.
    pub message: Parsed<MessageText>,
    /// `None`: the default department.
    pub department_id: Parsed<Option<i64>>,
    pub urgency: Parsed<Urgency>,
    pub labels: Parsed<Labels>,
    pub fields: FieldValues,
    pub channel: Channel,
    /// Whether the requester is mailed a receipt with the ticket's link
    /// (on by default; an agent or an API caller may leave it out).
    pub send_receipt: bool,
}

/// A change to a ticket's properties; what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketChange {
    pub status: Option<Parsed<TicketStatus>>,
    pub urgency: Option<Parsed<Urgency>>,
    pub department_id: Option<Parsed<i64>>,
    /// `Some(None)` unassigns.
    pub agent_id: Option<Parsed<Option<i64>>>,
    pub team_id: Option<Parsed<Option<i64>>>,
    /// An entry of the priority list, or `Some(None)` for none.
    pub priority_id: Option<Parsed<Option<i64>>>,
    /// The whole new set of labels.
    pub labels: Option<Parsed<Labels>>,
    pub fields: FieldValues,
}

/// A reply (the requester sees it) or an internal note.
#[derive(Debug, Clone)]
pub struct ReplyInput {
    pub body: Parsed<MessageText>,
    pub is_note: bool,
    /// The status to leave the ticket in; by default a reply makes it
    /// "awaiting user" and a note leaves it alone.
    pub status: Option<Parsed<TicketStatus>>,
    /// The newest message the agent had seen; a newer one is a conflict.
    pub seen_message_id: Option<i64>,
    /// Files received with the message, already stored.
    pub attachments: Vec<UploadedFile>,
    pub channel: Channel,
    /// The received mail it came from (an agent answering by mail).
    pub inbound_mail: Option<ferrodesk_store::FromMail>,
}
