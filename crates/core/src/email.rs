use std::fmt;

/// The longest address SMTP can carry (RFC 5321, 4.5.3.1.3).
pub const MAX_EMAIL_LENGTH: usize = 254;
const MAX_LOCAL_PART_LENGTH: usize = 64;

/// A syntactically plausible email address, trimmed. Quoted local parts,
/// comments and display names are refused: people type plain addresses, and a
/// plain address can be put into a mail header without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("That email address is too long.")]
    TooLong,
    #[error("That does not look like an email address.")]
    Malformed,
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.chars().count() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = text.rsplit_once('@').ok_or(EmailError::Malformed)?;
        if local.is_empty()
            || local.chars().count() > MAX_LOCAL_PART_LENGTH
            || !local.chars().all(is_local_part_char)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::Malformed);
        }
        if !is_domain(domain) {
            return Err(EmailError::Malformed);
        }
        Ok(Email(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups: two addresses that differ
    /// only in letter case belong to the same person.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn domain(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map(|(_, domain)| domain)
            .unwrap_or("")
    }
}

fn is_local_part_char(character: char) -> bool {
    character.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(character)
}

fn is_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl fmt::Display for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_and_keep_their_case() {
        let email = Email::parse("  Ada.Lovelace+help@Example.org ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+help@Example.org");
        assert_eq!(email.normalized(), "ada.lovelace+help@example.org");
        assert_eq!(email.domain(), "Example.org");
        assert!(Email::parse("admin@localhost").is_ok());
        assert!(Email::parse("jürgen@bücher.de").is_ok());
    }

    #[test]
    fn header_breaking_and_malformed_addresses_are_refused() {
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "@example.org",
            "ada@",
            "ada@@example.org",
            "ada@example..org",
            "ada@-example.org",
            ".ada@example.org",
            "a..da@example.org",
            "ada@example.org\r\nBcc: victim@example.org",
            "Ada <ada@example.org>",
            "\"ada\"@example.org",
            "ada @example.org",
            "ada@exa mple.org",
        ] {
            assert!(Email::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn absurdly_long_addresses_are_refused() {
        let long = format!("{}@example.org", "a".repeat(300));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::Malformed));
    }
}
