//! Turning a queued mail into a MIME message.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::address::{HeaderText, MailAddressError};

/// A mail ready to send: every part already checked.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: HeaderText,
    pub text_body: String,
    pub html_body: Option<String>,
    pub message_id: String,
    pub threading: Threading,
    /// Where replies should go, when not to `from`.
    pub reply_to: Option<Mailbox>,
}

/// The headers that place a mail in a conversation (replies to tickets).
/// These are the only extra headers a queued mail may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Threading {
    pub in_reply_to: Option<HeaderText>,
    pub references: Option<HeaderText>,
}

impl Threading {
    /// Reads the JSON object an outbox row keeps (`{"In-Reply-To": "<id>",
    /// "References": "<id> <id>"}`). Any other header name, or a value with
    /// line breaks or without message-id brackets, is refused.
    pub fn from_json(json: &str) -> Result<Threading, MailAddressError> {
        let fields: std::collections::BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|_| MailAddressError::UnknownHeader(json.to_owned()))?;
        let mut threading = Threading::default();
        for (name, value) in fields {
            let value = HeaderText::parse(&value)?;
            let ids_are_bracketed = value
                .as_str()
                .split_whitespace()
                .all(|id| id.starts_with('<') && id.ends_with('>') && id.len() > 2);
            if !ids_are_bracketed || value.as_str().is_empty() {
                return Err(MailAddressError::UnknownHeader(name));
            }
            match name.to_ascii_lowercase().as_str() {
                "in-reply-to" => threading.in_reply_to = Some(value),
                "references" => threading.references = Some(value),
                _ => return Err(MailAddressError::UnknownHeader(name)),
            }
        }
        Ok(threading)
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834) so that autoresponders do not
/// answer our notifications and start a mail loop.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// A globally unique Message-ID in the sender's domain.
pub fn new_message_id(from_domain: &str) -> String {
    let mut bytes = [0u8; 16];
    let unique = match getrandom::fill(&mut bytes) {
        Ok(()) => hex::encode(bytes),
        // Uniqueness is what matters; the clock gives it when randomness fails.
        Err(_) => format!("t{:x}", ferrodesk_core::Timestamp::now().millis()),
    };
    format!("<{unique}@{from_domain}>")
}

impl OutgoingMail {
    pub fn to_message(&self) -> Result<Message, lettre::error::Error> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(self.subject.as_str())
            .message_id(Some(self.message_id.clone()))
            .date_now()
            .header(AutoSubmitted);
        for recipient in &self.to {
            builder = builder.to(recipient.clone());
        }
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(in_reply_to) = &self.threading.in_reply_to {
            builder = builder.in_reply_to(in_reply_to.as_str().to_owned());
        }
        if let Some(references) = &self.threading.references {
            builder = builder.references(references.as_str().to_owned());
        }
        match &self.html_body {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                self.text_body.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(self.text_body.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::mailbox;

    #[test]
    fn a_mail_has_a_text_part_an_html_part_and_loop_protection() {
        let mail = OutgoingMail {
            from: mailbox(Some("Help"), "help@example.org").unwrap(),
            to: vec![mailbox(Some("Ada"), "ada@example.org").unwrap()],
            subject: HeaderText::parse("Reset your password").unwrap(),
            text_body: "plain words".into(),
            html_body: Some("<p>rich words</p>".into()),
            message_id: new_message_id("example.org"),
            threading: Threading::from_json(r#"{"In-Reply-To": "<a@example.org>"}"#).unwrap(),
            reply_to: Some(mailbox(None, "help+tag@example.org").unwrap()),
        };
        let formatted = String::from_utf8(mail.to_message().unwrap().formatted()).unwrap();
        assert!(formatted.contains("Auto-Submitted: auto-generated"));
        assert!(formatted.contains("text/plain"));
        assert!(formatted.contains("text/html"));
        assert!(formatted.contains("Message-ID: <"));
        assert!(formatted.contains("Subject: Reset your password"));
        assert!(formatted.contains("In-Reply-To: <a@example.org>"));
        assert!(formatted.contains("Reply-To: help+tag@example.org"));
    }

    #[test]
    fn only_threading_headers_with_clean_values_are_accepted() {
        assert_eq!(Threading::from_json("{}").unwrap(), Threading::default());
        let threading =
            Threading::from_json(r#"{"References": "<a@example.org> <b@example.org>"}"#).unwrap();
        assert_eq!(
            threading.references.unwrap().as_str(),
            "<a@example.org> <b@example.org>"
        );
        for refused in [
            r#"{"Bcc": "<victim@example.org>"}"#,
            r#"{"In-Reply-To": "<a@example.org>
Bcc: victim@example.org"}"#,
            r#"{"In-Reply-To": "no brackets"}"#,
            r#"{"In-Reply-To": ""}"#,
            "not json",
        ] {
            assert!(Threading::from_json(refused).is_err(), "{refused}");
        }
    }
}
