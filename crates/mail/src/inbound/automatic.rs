//! The marks of mail no person typed: auto-replies, bulk mail, messages
//! from a mail system, and delivery status notifications (bounces). Nothing
//! automatic is ever answered automatically, which is what stops two
//! robots mailing each other forever.

use mail_parser::{Message, MimeHeaders, PartType};

use super::clean_id;

/// Why a message counts as automatic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// `Auto-Submitted` other than `no` (RFC 3834).
    AutoSubmitted,
    /// `Precedence: bulk`, `junk` or `list`.
    Precedence,
    /// `X-Autoreply` or `X-Autorespond`.
    AutoReplyHeader,
    /// An empty return path (`Return-Path: <>`), as bounces have.
    NullSender,
    /// From `mailer-daemon@` or `postmaster@`.
    MailerDaemon,
}

impl Automatic {
    pub fn key(self) -> &'static str {
        match self {
            Automatic::AutoSubmitted => "auto-submitted",
            Automatic::Precedence => "precedence",
            Automatic::AutoReplyHeader => "x-autoreply",
            Automatic::NullSender => "null-sender",
            Automatic::MailerDaemon => "mailer-daemon",
        }
    }
}

/// A delivery status notification: the message ids of the mail it returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounce {
    pub original_message_ids: Vec<String>,
}

fn header_text<'a>(message: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    message.header_raw(name).map(str::trim)
}

/// Why nothing should answer this message, if so.
pub(super) fn automatic_reason(message: &Message<'_>) -> Option<Automatic> {
    if let Some(value) = header_text(message, "Auto-Submitted") {
        let kind = value.split(';').next().unwrap_or("").trim();
        if !kind.eq_ignore_ascii_case("no") {
            return Some(Automatic::AutoSubmitted);
        }
    }
    if let Some(value) = header_text(message, "Precedence") {
        let value = value.to_ascii_lowercase();
        if ["bulk", "junk", "list"].contains(&value.as_str()) {
            return Some(Automatic::Precedence);
        }
    }
    if header_text(message, "X-Autoreply").is_some()
        || header_text(message, "X-Autorespond").is_some()
    {
        return Some(Automatic::AutoReplyHeader);
    }
    if let Some(path) = header_text(message, "Return-Path") {
        let inner = path.trim_start_matches('<').trim_end_matches('>').trim();
        if inner.is_empty() {
            return Some(Automatic::NullSender);
        }
    }
    let sender = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .unwrap_or("");
    let local = sender.split('@').next().unwrap_or("").to_ascii_lowercase();
    if local == "mailer-daemon" || local == "postmaster" {
        return Some(Automatic::MailerDaemon);
    }
    None
}

/// The bounce a delivery status notification is, if it is one.
pub(super) fn bounce_of(message: &Message<'_>) -> Option<Bounce> {
    let is_report = message.content_type().is_some_and(|kind| {
        kind.ctype().eq_ignore_ascii_case("multipart")
            && kind
                .subtype()
                .is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
            && kind
                .attribute("report-type")
                .is_some_and(|report| report.eq_ignore_ascii_case("delivery-status"))
    });
    if !is_report {
        return None;
    }
    let mut original_message_ids = Vec::new();
    for part in &message.parts {
        match &part.body {
            PartType::Message(returned) => {
                if let Some(id) = returned.message_id() {
                    original_message_ids.push(clean_id(id));
                }
            }
            PartType::Text(text) if part.is_content_type("text", "rfc822-headers") => {
                if let Some(id) = message_id_in_headers(text) {
                    original_message_ids.push(id);
                }
            }
            _ => {}
        }
    }
    original_message_ids.retain(|id| !id.is_empty());
    Some(Bounce {
        original_message_ids,
    })
}

/// The Message-ID in a block of header text.
fn message_id_in_headers(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("message-id")
            .then(|| clean_id(value))
    })
}
