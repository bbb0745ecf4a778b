//! Mail in: one RFC 5322 message turned into what a ticket needs. Bodies
//! are decoded from any transfer encoding and charset (UTF-8, ISO-8859-x,
//! Windows-125x, Shift_JIS, ISO-2022-JP, GB2312/GBK, Big5, EUC-KR…),
//! headers from RFC 2047 words and file names from RFC 2231 parameters
//! (`mail-parser` with its full set of charsets). The new text is cut from
//! the quoted history below it, HTML is sanitized, and the marks of
//! automatic mail and bounces are read so that nothing answers them.
//!
//! Nothing here trusts the message: sizes are capped before parsing, no URL
//! in a mail is ever fetched, and the result holds only plain text, safe
//! HTML and bytes.

mod automatic;
mod html;
mod quotes;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

pub use automatic::{Automatic, Bounce};
pub use html::{SafeHtml, sanitize_html};
pub use quotes::split_quoted_text;

/// The largest message parsed; a bigger one is refused before parsing.
pub const MAX_INBOUND_BYTES: usize = 40 * 1024 * 1024;
/// Addresses read from To and Cc; more are ignored.
const MAX_RECIPIENTS: usize = 50;
/// Message ids read from References; the newest are kept.
const MAX_REFERENCES: usize = 50;
/// Attachments read from one message; more are ignored (and counted).
const MAX_ATTACHMENTS: usize = 100;
/// The longest subject kept.
const MAX_SUBJECT_CHARS: usize = 500;

/// A name and address from a header, the address lower-cased only in its
/// domain part's case-insensitive sense by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPerson {
    pub address: String,
    pub name: Option<String>,
}

/// A file the message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundAttachment {
    pub file_name: String,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Shown inside the HTML body (`cid:`), such as a pasted screenshot.
    pub is_inline: bool,
    pub bytes: Vec<u8>,
}

/// Why a message cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("the message is larger than {MAX_INBOUND_BYTES} bytes")]
    TooLarge,
    #[error("the message has no readable headers")]
    Unreadable,
}

/// One message, read.
#[derive(Debug, Clone, Default)]
pub struct InboundMessage {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<MailPerson>,
    pub reply_to: Option<MailPerson>,
    pub to: Vec<MailPerson>,
    pub cc: Vec<MailPerson>,
    pub subject: String,
    /// What the sender wrote, as plain text, without the quoted history.
    pub reply_text: String,
    /// The quoted history cut from below it, as plain text.
    pub quoted_text: String,
    /// The HTML body made safe, when the message has one.
    pub html: Option<SafeHtml>,
    pub attachments: Vec<InboundAttachment>,
    /// Files beyond `MAX_ATTACHMENTS`, not kept.
    pub attachments_dropped: usize,
    /// Why nothing should answer this message automatically, if so.
    pub automatic: Option<Automatic>,
    /// A delivery status notification, with what it concerns.
    pub bounce: Option<Bounce>,
}

impl InboundMessage {
    /// Every message id the message refers to, newest first: In-Reply-To,
    /// then References from the end.
    pub fn referenced_ids(&self) -> impl Iterator<Item = &str> {
        self.in_reply_to
            .iter()
            .chain(self.references.iter().rev())
            .map(String::as_str)
    }
}

/// What the rejection log shows of a message before it is processed: its
/// Message-ID (without brackets), sender (lower case) and subject, each
/// on one line and short.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderSummary {
    pub message_id: String,
    pub sender: String,
    /// The sender's display name, when given.
    pub sender_name: String,
    pub subject: String,
    /// Why nothing should answer the message automatically, if so.
    pub automatic: Option<Automatic>,
}

/// Reads only a message's headers, for its summary.
pub fn header_summary(raw: &[u8]) -> HeaderSummary {
    let Some(headers) = MessageParser::default().parse_headers(raw) else {
        return HeaderSummary::default();
    };
    HeaderSummary {
        message_id: headers.message_id().map(clean_id).unwrap_or_default(),
        sender: headers
            .from()
            .and_then(first_person)
            .map(|person| one_line(&person.address.to_lowercase(), 254))
            .unwrap_or_default(),
        sender_name: headers
            .from()
            .and_then(first_person)
            .and_then(|person| person.name)
            .map(|name| one_line(&name, 200))
            .unwrap_or_default(),
        subject: headers
            .subject()
            .map(|subject| one_line(subject, 200))
            .unwrap_or_default(),
        automatic: automatic::automatic_reason(&headers),
    }
}

/// Reads one message. Bodies and headers are decoded; nothing is fetched.
pub fn parse_inbound(raw: &[u8]) -> Result<InboundMessage, InboundError> {
    if raw.len() > MAX_INBOUND_BYTES {
        return Err(InboundError::TooLarge);
    }
    let mut message = MessageParser::default()
        .parse(raw)
        .ok_or(InboundError::Unreadable)?;
    if message.headers().is_empty() {
        return Err(InboundError::Unreadable);
    }
    let text = body_text(&message);
    let html_source = message
        .html_bodies()
        .find(|part| matches!(part.body, PartType::Html(_)))
        .and_then(|part| part.text_contents())
        .map(str::to_owned);
    let (html, html_text) = match &html_source {
        Some(source) => {
            let safe = sanitize_html(source);
            let text = safe.reply_text();
            (Some(safe), Some(text))
        }
        None => (None, None),
    };
    // The plain part is the better text when there is one; an HTML-only
    // message gives its visible words.
    let (reply_text, quoted_text) = match (text, html_text) {
        (Some(text), _) => split_quoted_text(&text),
        (None, Some(text)) => (
            text,
            html.as_ref().map(SafeHtml::quoted_text).unwrap_or_default(),
        ),
        (None, None) => (String::new(), String::new()),
    };
    let bounce = automatic::bounce_of(&message);
    let (attachments, attachments_dropped) = attachments_of(&mut message, bounce.is_some());
    Ok(InboundMessage {
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty()),
        in_reply_to: ids_of(message.in_reply_to(), MAX_REFERENCES),
        references: ids_of(message.references(), MAX_REFERENCES),
        from: message.from().and_then(first_person),
        reply_to: message.reply_to().and_then(first_person),
        to: people_of(message.to()),
        cc: people_of(message.cc()),
        subject: message
            .subject()
            .map(|subject| one_line(subject, MAX_SUBJECT_CHARS))
            .unwrap_or_default(),
        reply_text,
        quoted_text,
        html,
        attachments,
        attachments_dropped,
        automatic: automatic::automatic_reason(&message),
        bounce,
    })
}

/// The text of the plain bodies, joined; `None` when the message has only
/// HTML (mail-parser would convert it, but the sanitized HTML gives the
/// text with its quotes cut).
fn body_text(message: &mail_parser::Message<'_>) -> Option<String> {
    let mut text = String::new();
    let mut any = false;
    for part in message.text_bodies() {
        if let PartType::Text(body) = &part.body {
            if any {
                text.push_str("\n\n");
            }
            text.push_str(body);
            any = true;
        }
    }
    any.then(|| text.replace("\r\n", "\n"))
}

/// Parts without a name that are a message's machinery, not files: a
/// calendar invitation's body, a report's delivery status and the headers
/// it returns.
const UNNAMED_MACHINERY: [&str; 4] = [
    "text/calendar",
    "message/delivery-status",
    "message/disposition-notification",
    "text/rfc822-headers",
];

/// The files of a message: attachments and inline images, up to the cap.
/// A report's returned message is part of the bounce, not a file.
/// Decoded bodies are moved out of the parsed message rather than copied,
/// so a large file is held once.
fn attachments_of(
    message: &mut mail_parser::Message<'_>,
    is_report: bool,
) -> (Vec<InboundAttachment>, usize) {
    let mut files = Vec::new();
    let mut dropped = 0;
    let ids = message.attachments.clone();
    for id in ids {
        let Some(part) = message.parts.get_mut(id as usize) else {
            continue;
        };
        if files.len() >= MAX_ATTACHMENTS {
            dropped += 1;
            continue;
        }
        let content_type = part
            .content_type()
            .map(|kind| match kind.subtype() {
                Some(subtype) => format!("{}/{}", kind.ctype(), subtype),
                None => kind.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase();
        let named = part
            .attachment_name()
            .is_some_and(|name| !name.trim().is_empty());
        let machinery = UNNAMED_MACHINERY.contains(&content_type.as_str())
            || (is_report && content_type == "message/rfc822");
        if !named && machinery {
            continue;
        }
        let bytes = match std::mem::take(&mut part.body) {
            PartType::Message(inner) => inner.raw_message().to_vec(),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
            PartType::Text(text) | PartType::Html(text) => text.into_owned().into_bytes(),
            PartType::Multipart(_) => Vec::new(),
        };
        let is_inline = part.content_id().is_some()
            && part
                .content_disposition()
                .is_none_or(|disposition| disposition.ctype().eq_ignore_ascii_case("inline"));
        let file_name = part
            .attachment_name()
            .map(|name| one_line(name, 200))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| fallback_name(&content_type, files.len() + 1));
        files.push(InboundAttachment {
            file_name,
            content_type,
            is_inline,
            bytes,
        });
    }
    (files, dropped)
}

/// A name for a file that came without one.
fn fallback_name(content_type: &str, number: usize) -> String {
    let extension = match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "text/calendar" => "ics",
        "message/rfc822" => "eml",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    format!("attachment-{number}.{extension}")
}

fn first_person(address: &Address<'_>) -> Option<MailPerson> {
    address.first().and_then(person)
}

fn people_of(address: Option<&Address<'_>>) -> Vec<MailPerson> {
    address
        .map(|address| {
            address
                .iter()
                .filter_map(person)
                .take(MAX_RECIPIENTS)
                .collect()
        })
        .unwrap_or_default()
}

fn person(addr: &mail_parser::Addr<'_>) -> Option<MailPerson> {
    let address = addr.address()?.trim();
    if address.is_empty() {
        return None;
    }
    Some(MailPerson {
        address: address.to_owned(),
        name: addr
            .name()
            .map(|name| one_line(name, 200))
            .filter(|name| !name.is_empty()),
    })
}

/// Message ids from a header, without brackets.
fn ids_of(value: &HeaderValue<'_>, limit: usize) -> Vec<String> {
    let ids: Vec<String> = match value {
        HeaderValue::Text(id) => vec![clean_id(id)],
        HeaderValue::TextList(list) => list.iter().map(|id| clean_id(id)).collect(),
        _ => Vec::new(),
    };
    let ids: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
    let skip = ids.len().saturating_sub(limit);
    ids.into_iter().skip(skip).collect()
}

/// A message id as compared: without brackets and spaces, at most 250
/// characters.
fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|character| !character.is_whitespace() && !character.is_control())
        .take(250)
        .collect()
}

/// Header text on one line, control characters gone, at most `limit`
/// characters.
fn one_line(text: &str, limit: usize) -> String {
    let mut line = String::with_capacity(text.len().min(limit));
    let mut count = 0;
    let mut space = false;
    for character in text.chars() {
        if character.is_whitespace() || character.is_control() {
            space = !line.is_empty();
            continue;
        }
        if space {
            line.push(' ');
            count += 1;
            space = false;
        }
        line.push(character);
        count += 1;
        if count >= limit {
            break;
        }
    }
    line
}

#[cfg(test)]
mod tests;
