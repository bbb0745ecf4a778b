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

/// The longest local part RFC 5321 lets a server require it to take.
const MAX_LOCAL_PART: usize = 64;

/// The sender's mailbox with `tag` after a `+` in its local part
/// (`help+tag@example.org`), for replies to find their way back. `None`
/// when the tag is not plain (letters, digits, `.` and `-` only), the
/// sender already has a tag, or the local part would grow too long.
pub fn plus_address(sender: &Mailbox, tag: &str) -> Option<Mailbox> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    let user = sender.email.user();
    if tag.is_empty() || !tag.chars().all(plain) || user.contains('+') {
        return None;
    }
    let local = format!("{user}+{tag}");
    if local.len() > MAX_LOCAL_PART {
        return None;
    }
    let address = lettre::Address::new(local, sender.email.domain()).ok()?;
    Some(Mailbox::new(sender.name.clone(), address))
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
    fn plus_addresses_carry_plain_tags_only() {
        let help = mailbox(Some("Help"), "help@example.org").unwrap();
        let tagged = plus_address(&help, "fd.AB12.7.00ff.0123456789abcdef").unwrap();
        assert_eq!(
            tagged.email.to_string(),
            "help+fd.AB12.7.00ff.0123456789abcdef@example.org"
        );
        assert_eq!(tagged.name.as_deref(), Some("Help"));
        for refused in ["", "a b", "a@b", "x\r\nBcc", "a+b", &"x".repeat(60)] {
            assert!(plus_address(&help, refused).is_none(), "{refused}");
        }
        let tagged_already = mailbox(None, "help+in@example.org").unwrap();
        assert!(plus_address(&tagged_already, "x").is_none());
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
