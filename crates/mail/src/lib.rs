//! Ferrodesk's email: safe addresses and header text, notification templates
//! rendered in a sandbox, composing MIME messages, and sending them by SMTP.
//! Queueing lives in the store (the outbox); this crate has no database.

pub mod address;
pub mod compose;
pub mod imap;
pub mod inbound;
mod net;
pub mod smtp;
pub mod templates;

pub use address::{HeaderText, MailAddressError, mailbox, parse_mailbox, plus_address};
pub use compose::{OutgoingMail, Threading, new_message_id};
pub use lettre::message::Mailbox;
pub use smtp::{Security, SmtpConfig, SmtpConfigError, SmtpSender};
pub use templates::{
    RenderedMail, TemplateError, TemplateKind, TemplateSource, render, render_custom, render_text,
};
