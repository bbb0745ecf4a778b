//! Turning a queued mail into a MIME message.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::address::HeaderText;

/// A mail ready to send: every part already checked.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: HeaderText,
    pub text_body: String,
    pub html_body: Option<String>,
    pub message_id: String,
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
        };
        let formatted = String::from_utf8(mail.to_message().unwrap().formatted()).unwrap();
        assert!(formatted.contains("Auto-Submitted: auto-generated"));
        assert!(formatted.contains("text/plain"));
        assert!(formatted.contains("text/html"));
        assert!(formatted.contains("Message-ID: <"));
        assert!(formatted.contains("Subject: Reset your password"));
    }
}
