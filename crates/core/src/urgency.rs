//! How urgent a ticket is: 1 (whenever) to 10 (now).

use std::fmt;

/// Urgency from 1 to 10; only built by checking the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Urgency(u8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Urgency is a number from 1 to 10.")]
pub struct UrgencyError;

impl Urgency {
    pub const LOWEST: Urgency = Urgency(1);
    pub const HIGHEST: Urgency = Urgency(10);

    pub fn new(value: i64) -> Result<Urgency, UrgencyError> {
        match u8::try_from(value) {
            Ok(value @ 1..=10) => Ok(Urgency(value)),
            _ => Err(UrgencyError),
        }
    }

    /// A number as a form sends it.
    pub fn parse(text: &str) -> Result<Urgency, UrgencyError> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| UrgencyError)
            .and_then(Urgency::new)
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl Default for Urgency {
    fn default() -> Urgency {
        Urgency::LOWEST
    }
}

/// How urgencies come out of the database.
impl TryFrom<i64> for Urgency {
    type Error = UrgencyError;
    fn try_from(value: i64) -> Result<Urgency, UrgencyError> {
        Urgency::new(value)
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_to_ten_is_an_urgency() {
        assert_eq!(Urgency::parse(" 7 ").unwrap().get(), 7);
        assert_eq!(Urgency::new(1).unwrap(), Urgency::LOWEST);
        assert_eq!(Urgency::new(10).unwrap(), Urgency::HIGHEST);
        for bad in ["0", "11", "-1", "", "x", "3.5", "300"] {
            assert!(Urgency::parse(bad).is_err(), "{bad}");
        }
        assert!(Urgency::new(i64::MAX).is_err());
    }
}
