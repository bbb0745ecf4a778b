//! The text of a ticket: its subject line and the body of a message.

use std::fmt;

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_MESSAGE_BYTES: usize = 100_000;

/// A subject: one line of 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("A subject has 1 to 200 characters.")]
    Length,
    #[error("A subject is one line.")]
    Lines,
}

impl Subject {
    pub fn parse(text: &str) -> Result<Subject, SubjectError> {
        let subject = text.trim();
        if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(SubjectError::Length);
        }
        if subject.chars().any(char::is_control) {
            return Err(SubjectError::Lines);
        }
        Ok(Subject(subject.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject of a ticket whose source had none (a mail without a
    /// Subject: line).
    pub fn untitled() -> Subject {
        Subject("(no subject)".to_owned())
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A message's markdown, trimmed, at most 100,000 bytes. It may be empty:
/// whether an empty message will do (it may carry files) is the use
/// case's to say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageText(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("A message is at most 100,000 characters; attach long texts as files.")]
pub struct MessageTooLong;

impl MessageText {
    pub fn parse(text: &str) -> Result<MessageText, MessageTooLong> {
        let text = text.trim();
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(MessageTooLong);
        }
        Ok(MessageText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_one_short_line() {
        assert_eq!(
            Subject::parse("  Printer jam ").unwrap().as_str(),
            "Printer jam"
        );
        assert_eq!(Subject::parse(" "), Err(SubjectError::Length));
        assert_eq!(Subject::parse(&"x".repeat(201)), Err(SubjectError::Length));
        assert_eq!(Subject::parse("a\nb"), Err(SubjectError::Lines));
    }

    #[test]
    fn a_message_is_trimmed_and_bounded() {
        assert_eq!(MessageText::parse(" hi \n").unwrap().as_str(), "hi");
        assert!(MessageText::parse("").unwrap().is_empty());
        assert!(MessageText::parse(&"x".repeat(MAX_MESSAGE_BYTES + 1)).is_err());
    }
}
