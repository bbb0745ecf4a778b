//! Header values from input are parsed, never concatenated: an address goes
//! through lettre's parser, a display name or subject may not contain line
//! breaks or other control characters, so no input can add a header.

use lettre::message::Mailbox;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailAddressError {
    #[error("{0:?} is not a valid email address")]
    InvalidAddress(String),
    #[error("header text may not contain line breaks or control characters")]
    ControlCharacters,
    #[error("the header {0:?} may not be set on a queued mail")]
    UnknownHeader(String),
}

/// Text that is safe to put in a mail header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderText(String);

impl HeaderText {
    pub fn parse(text: &str) -> Result<HeaderText, MailAddressError> {
        if text.chars().any(char::is_control) {
            return Err(MailAddressError::ControlCharacters);
        }
        Ok(HeaderText(text.trim().to_owned()))
    }

    /// For generated text such as a rendered subject: control characters
    /// (a template might emit a newline) become spaces instead of failing.
    pub fn flatten(text: &str) -> HeaderText {
        let flat: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        HeaderText(flat.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mailbox (`Name <address>`) built from parts, each checked.
pub fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, MailAddressError> {
    let address = address.trim();
    if address.chars().any(char::is_control) {
        return Err(MailAddressError::ControlCharacters);
    }
    let parsed = address
        .parse::<lettre::Address>()
        .map_err(|_| MailAddressError::InvalidAddress(address.to_owned()))?;
    let name = match name {
        Some(name) => Some(HeaderText::parse(name)?.0).filter(|name| !name.is_empty()),
        None => None,
    };
    Ok(Mailbox::new(name, parsed))
}

/// A mailbox as stored in the outbox (lettre's own formatting), parsed back.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, MailAddressError> {
    if text.chars().any(char::is_control) {
        return Err(MailAddressError::ControlCharacters);
    }
    text.parse::<Mailbox>()
        .map_err(|_| MailAddressError::InvalidAddress(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_injection_through_names_addresses_or_subjects_is_refused() {
        assert!(mailbox(Some("Eve\r\nBcc: victim@example.org"), "eve@example.org").is_err());
        assert!(mailbox(None, "eve@example.org\r\nBcc: victim@example.org").is_err());
        assert!(mailbox(None, "eve@example.org, victim@example.org").is_err());
        assert!(HeaderText::parse("Hello\nBcc: victim@example.org").is_err());
        assert_eq!(
            HeaderText::flatten("Hello\r\nBcc: x").as_str(),
            "Hello Bcc: x"
        );
    }

    #[test]
    fn stored_mailboxes_parse_back_to_the_same_mailbox() {
        for (name, address) in [
            (Some("Ada Lovelace"), "ada@example.org"),
            (Some("Lovelace, Ada \"the first\""), "ada@example.org"),
            (Some("Zoë Ünal"), "zoe@example.org"),
            (None, "plain@example.org"),
        ] {
            let built = mailbox(name, address).unwrap();
            assert_eq!(parse_mailbox(&built.to_string()).unwrap(), built);
        }
        assert!(parse_mailbox("a@example.org\r\nBcc: b@example.org").is_err());
        assert!(parse_mailbox("nobody").is_err());
    }

    #[test]
    fn ordinary_mailboxes_are_built() {
        let built = mailbox(Some("Ada Lovelace"), "ada@example.org").unwrap();
        assert_eq!(built.email.to_string(), "ada@example.org");
        assert_eq!(built.name.as_deref(), Some("Ada Lovelace"));
        let quoted = mailbox(Some("Lovelace, Ada \"the first\""), "ada@example.org").unwrap();
        assert!(quoted.to_string().contains("ada@example.org"));
    }
}
