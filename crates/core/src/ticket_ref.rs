//! Ticket references: what people quote ("KX7P-M2QD"), random rather than
//! counted so a reference tells nothing about how many tickets there are.

use std::fmt;

/// Symbols of a reference: no 0/O or 1/I to misread.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Four symbols, a dash, four symbols.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketRef(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ticket reference")]
pub struct NotAReference;

impl TicketRef {
    /// A reference as someone typed it: surrounding space and lower case
    /// are forgiven, anything else is not a reference.
    pub fn parse(text: &str) -> Result<TicketRef, NotAReference> {
        let text = text.trim().to_ascii_uppercase();
        let well_formed = text.len() == 9
            && text.bytes().enumerate().all(|(index, byte)| {
                if index == 4 {
                    byte == b'-'
                } else {
                    ALPHABET.contains(&byte)
                }
            });
        if well_formed {
            Ok(TicketRef(text))
        } else {
            Err(NotAReference)
        }
    }

    /// A reference drawn from eight random bytes.
    pub fn from_random(bytes: [u8; 8]) -> TicketRef {
        let symbols: Vec<char> = bytes
            .iter()
            .map(|byte| char::from(ALPHABET[usize::from(byte % 32)]))
            .collect();
        let (first, second) = symbols.split_at(4);
        TicketRef(format!(
            "{}-{}",
            first.iter().collect::<String>(),
            second.iter().collect::<String>()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How references come out of the database.
impl TryFrom<String> for TicketRef {
    type Error = NotAReference;
    fn try_from(text: String) -> Result<TicketRef, NotAReference> {
        TicketRef::parse(&text)
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl PartialEq<str> for TicketRef {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_drawn_and_recognised() {
        let first = TicketRef::from_random([0, 1, 2, 3, 4, 5, 6, 255]);
        assert_eq!(first.as_str(), "ABCD-EFG9");
        assert_eq!(TicketRef::parse(" abcd-efg9 ").unwrap(), first);
        for junk in [
            "",
            "ABCD1234",
            "ABCD-EFG0",
            "ABCD-EFGHI",
            "../../etc",
            "ABCD_EFGH",
        ] {
            assert!(TicketRef::parse(junk).is_err(), "{junk}");
        }
    }
}
